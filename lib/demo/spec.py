"""What the demo warehouse contains: sizes, shares, defect rates, vocabularies."""

from __future__ import annotations

from datetime import date

import numpy as np


# ============================================================== defect rates (documented)
# Exact shares of all customer rows; the number of affected rows is round(rate * n).
# The first five are mutually exclusive per row; STALE_RATE is drawn independently.
DUPLICATE_RATE = 0.03  # second record of an existing person from another source
INVALID_EMAIL_RATE = 0.02  # email present but syntactically invalid
INVALID_MOBILE_RATE = 0.02  # mobile present but not a valid phone number
MISSING_REQUIRED_RATE = 0.01  # no name, or neither mobile nor email
IMPOSSIBLE_DATE_RATE = 0.005  # birth date in the future / before 1900 / after registration
STALE_RATE = 0.05  # updated_at and verified_at older than STALE_MONTHS
STALE_MONTHS = 24

DEFECT_RATES = {
    "duplicate": DUPLICATE_RATE,
    "invalid_email": INVALID_EMAIL_RATE,
    "invalid_mobile": INVALID_MOBILE_RATE,
    "missing_required": MISSING_REQUIRED_RATE,
    "impossible_date": IMPOSSIBLE_DATE_RATE,
    "stale": STALE_RATE,
}

# ============================================================== population and behaviour
DEFAULT_AS_OF = date(2026, 11, 1)  # fixed for determinism; the last day with data
HISTORY_DAYS = 3 * 365  # registrations start this many days before as-of
INTERNATIONAL_SHARE = 0.10
B2B_SHARE = 0.15  # of all customers; B2B contacts are Chinese companies
RESIDENT_ID_SHARE = 0.80  # Chinese customers whose source captured the resident ID
EMAIL_SHARE_CN = 0.62  # Chinese B2C customers who gave an email (B2B: all)
MOBILE_SHARE_INTL = 0.85
PROSPECT_SHARE = 0.18  # never ordered, no intent events
INTENT_SHARE = 0.10  # carts / consults, never ordered
ONE_TIME_SHARE = 0.36  # of buyers: exactly one order in their life
CHURNER_SHARE = 0.30  # of buyers registered > 430 days ago: stop buying early
CHURN_REASON_SHARE = 0.60  # of those churners: a recorded churn_reason
TARGET_ORDERS_PER_CUSTOMER = 8.0
TARGET_EVENTS_PER_CUSTOMER = 20.0
REGISTRATION_GROWTH = 1.6  # registrations per day grow this much per year
CHURN_DAYS = 365  # churned = purchases, none in the last 365 days
INTENT_DAYS = 90  # intent = no purchase, cart/consult in the last 90 days
PURCHASE_STATUSES = (0, 2)  # paid, partially_refunded count as purchases (lifecycle.py)
BLOCK_CUSTOMERS = 25_000  # orders/events are generated and loaded per block

CHANNELS = ["web", "app", "wechat", "store", "referral", "ads", "partner"]
CHANNEL_SHARES = [0.20, 0.26, 0.25, 0.12, 0.06, 0.08, 0.03]
SOURCES = ["crm", "shop", "wechat_mall", "store_pos", "tmall"]
ORDER_SOURCE_PREFIX = ["CRM-SO-", "SO", "WX", "POS", "TM"]
ORDER_CHANNELS = ["web", "app", "wechat", "store", "partner"]  # a subset of CHANNELS
EVENT_CHANNELS = ORDER_CHANNELS + ["phone"]
EVENT_TYPES = ["browse", "add_to_cart", "purchase", "consult", "complaint", "return"]
ORDER_STATUSES = ["paid", "refunded", "partially_refunded", "cancelled"]
REFUND_SHARE = 0.035  # of orders older than two days: fully refunded
PARTIAL_REFUND_SHARE = 0.03
CANCEL_SHARE = 0.025  # only non-last orders of customers with >= 3 orders
STAGES = ["prospect", "intent", "customer", "repeat", "churned"]
CATEGORIES = ["apparel", "beauty", "electronics", "home", "grocery", "baby", "sports", "books"]
CATEGORY_SHARES = [0.22, 0.15, 0.12, 0.13, 0.16, 0.07, 0.09, 0.06]
CATEGORY_MEDIAN_CNY = [189, 239, 1099, 299, 79, 199, 269, 49]
CHURN_REASONS = ["price", "competitor", "service", "quality", "delivery", "moved", "no_longer_needed"]
CHURN_REASON_SHARES = [0.24, 0.18, 0.16, 0.12, 0.10, 0.08, 0.12]
INDUSTRIES = [
    "manufacturing",
    "retail",
    "it_services",
    "finance",
    "healthcare",
    "education",
    "logistics",
    "construction",
    "hospitality",
    "professional_services",
]
JOB_TITLES_ZH = [
    "采购经理",
    "采购专员",
    "行政主管",
    "行政专员",
    "总经理",
    "副总经理",
    "IT经理",
    "财务经理",
    "运营总监",
    "办公室主任",
    "项目经理",
    "供应链经理",
    "人事经理",
    "市场总监",
    "店长",
]
CONSULT_NOTES = [
    "咨询发货时间",
    "询问尺码怎么选",
    "咨询优惠券使用规则",
    "问能否开具增值税专用发票",
    "咨询会员积分兑换",
    "询问商品是否有现货",
    "咨询退换货政策",
    "问能否修改收货地址",
    "咨询以旧换新活动",
    "询问保修期多长",
    "咨询双十一预售定金规则",
    "问门店营业时间",
    "咨询企业批量采购价格",
    "询问物流到哪了",
]
COMPLAINT_NOTES = [
    "物流太慢，一周还没到",
    "收到的商品有破损",
    "客服回复太慢",
    "少发了配件",
    "退款迟迟没有到账",
    "商品与描述不符",
    "快递员态度差",
    "发票一直没开",
    "优惠券无法使用",
    "尺码严重偏小",
    "重复扣款",
    "门店店员态度不好",
    "安装师傅爽约",
    "质量有问题，用了两天就坏了",
]
CONSULT_NOTES_EN = [
    "Asked about delivery time abroad",
    "Question about sizing",
    "How to use a coupon",
    "Asked for an invoice",
    "Asked about international shipping fees",
    "Is this item in stock?",
]
COMPLAINT_NOTES_EN = [
    "Parcel delayed for two weeks",
    "Item arrived damaged",
    "Refund not received yet",
    "Wrong item delivered",
    "Customs fee was not mentioned",
    "Support did not reply",
]
NOTES = CONSULT_NOTES + COMPLAINT_NOTES + CONSULT_NOTES_EN + COMPLAINT_NOTES_EN

# Chinese mobile prefixes (phonenumbers-valid with any 8-digit tail), weighted by usage.
CN_MOBILE_PREFIXES = {
    **{p: 3.0 for p in range(130, 140)},
    145: 0.3,
    147: 0.5,
    **{p: 2.0 for p in (150, 151, 152, 153, 155, 156, 157, 158, 159)},
    162: 0.1,
    165: 0.1,
    166: 0.4,
    167: 0.1,
    170: 0.2,
    171: 0.2,
    172: 0.1,
    173: 0.5,
    175: 0.3,
    176: 0.6,
    177: 0.6,
    178: 0.6,
    **{p: 2.5 for p in range(180, 190)},
    190: 0.2,
    191: 0.3,
    192: 0.2,
    193: 0.3,
    195: 0.2,
    196: 0.2,
    197: 0.2,
    198: 0.5,
    199: 0.6,
}
CN_EMAIL_DOMAINS = {
    "163.com": 0.35,
    "126.com": 0.12,
    "sina.com": 0.06,
    "foxmail.com": 0.08,
    "gmail.com": 0.05,
    "outlook.com": 0.10,
    "hotmail.com": 0.04,
    "icloud.com": 0.10,
    "139.com": 0.06,
    "yeah.net": 0.04,
}
QQ_EMAIL_SHARE = 0.35

# International customers: country, name pool, address locale, share, email domains,
# mobile plans (E.164 prefix, random digits, lowest first random digit) that
# phonenumbers accepts as valid for any tail.
_US_AREAS = ["212", "213", "310", "312", "415", "617", "646", "702", "206", "305", "404", "512", "713", "214", "303"]
COUNTRIES = [
    (
        "US",
        "en_US",
        "en_US",
        0.30,
        ["gmail.com", "yahoo.com", "outlook.com", "icloud.com"],
        [(f"+1{a}", 7, 2) for a in _US_AREAS],
    ),
    (
        "GB",
        "en_GB",
        "en_GB",
        0.14,
        ["gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"],
        [(f"+447{d}", 8, 0) for d in "13458"],
    ),
    (
        "DE",
        "de_DE",
        "de_DE",
        0.12,
        ["gmx.de", "web.de", "gmail.com", "t-online.de"],
        [
            (f"+49{p}", 8, 0)
            for p in ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178", "179")
        ],
    ),
    (
        "FR",
        "fr_FR",
        "fr_FR",
        0.10,
        ["orange.fr", "gmail.com", "free.fr", "laposte.net"],
        [(f"+33{p}", 7, 0) for p in ("61", "62", "63", "64", "65", "66", "67", "68", "75", "76", "77", "78")],
    ),
    (
        "JP",
        "ja_JP",
        "ja_JP",
        0.20,
        ["gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com"],
        [("+8180", 8, 0)] + [(f"+8190{d}", 7, 0) for d in "123456789"],
    ),
    ("AU", "en_GB", "en_AU", 0.14, ["gmail.com", "bigpond.com", "outlook.com"], [(f"+614{d}", 7, 0) for d in "123"]),
]

# Province population (millions, 2020 census) for where Chinese customers live; the
# richer coastal provinces are weighted up for online retail.
PROVINCE_WEIGHTS = {
    11: 21.9 * 1.6,
    12: 13.9,
    13: 74.6,
    14: 34.9,
    15: 24.0,
    21: 42.6,
    22: 24.1,
    23: 31.9,
    31: 24.9 * 1.6,
    32: 84.7 * 1.3,
    33: 64.6 * 1.4,
    34: 61.0,
    35: 41.5 * 1.2,
    36: 45.2,
    37: 101.5,
    41: 99.4,
    42: 57.8,
    43: 66.4,
    44: 126.0 * 1.4,
    45: 50.1,
    46: 10.1,
    50: 32.1,
    51: 83.7,
    52: 38.6,
    53: 47.2,
    54: 3.6,
    61: 39.5,
    62: 25.0,
    63: 5.9,
    64: 7.2,
    65: 25.9,
}
MUNICIPALITIES = {11, 12, 31, 50}
POSTCODE_PREFIX = {
    11: "10",
    12: "30",
    13: "05",
    14: "03",
    15: "01",
    21: "11",
    22: "13",
    23: "15",
    31: "20",
    32: "21",
    33: "31",
    34: "23",
    35: "35",
    36: "33",
    37: "25",
    41: "45",
    42: "43",
    43: "41",
    44: "51",
    45: "53",
    46: "57",
    50: "40",
    51: "61",
    52: "55",
    53: "65",
    54: "85",
    61: "71",
    62: "73",
    63: "81",
    64: "75",
    65: "83",
}
# Surnames whose reading as a surname differs from pypinyin's default reading.
SURNAME_PINYIN = {
    "单": "shan",
    "曾": "zeng",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "解": "xie",
    "朴": "piao",
    "覃": "qin",
    "翟": "zhai",
    "乐": "yue",
    "缪": "miao",
    "召": "shao",
    "盖": "ge",
    "秘": "bi",
    "长孙": "zhang sun",
    "尉迟": "yu chi",
    "万俟": "mo qi",
    "员": "yun",
    "宿": "su",
    "柏": "bai",
    "句": "gou",
}
SPRING_FESTIVAL = {
    2015: "02-19",
    2016: "02-08",
    2017: "01-28",
    2018: "02-16",
    2019: "02-05",
    2020: "01-25",
    2021: "02-12",
    2022: "02-01",
    2023: "01-22",
    2024: "02-10",
    2025: "01-29",
    2026: "02-17",
    2027: "02-06",
    2028: "01-26",
    2029: "02-13",
    2030: "02-03",
    2031: "01-23",
    2032: "02-11",
    2033: "01-31",
    2034: "02-19",
    2035: "02-08",
}
HOUR_WEIGHTS = np.array(
    [
        1.2,
        0.7,
        0.4,
        0.25,
        0.2,
        0.25,
        0.5,
        1.2,
        2.2,
        3.0,
        3.6,
        3.8,
        3.9,
        3.6,
        3.6,
        3.7,
        3.6,
        3.5,
        3.6,
        4.3,
        5.2,
        5.6,
        4.8,
        2.8,
    ]
)
DAY = 86_400
YEAR = 365.25 * DAY
MONTH = YEAR / 12
DEFECT_CODES = ["none", "duplicate", "invalid_email", "invalid_mobile", "missing_required", "impossible_date"]


class DemoError(RuntimeError):
    """The demo warehouse cannot be built as asked (message meant for people)."""
