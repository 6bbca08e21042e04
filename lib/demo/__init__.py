"""Demo warehouse generator: a deterministic, realistic Customer 360 warehouse.

    python -m lib.demo --customers 50000 --seed 42 [--warehouse PATH] [--as-of 2026-11-01] [--replace]

What it builds (see docs/demo-data.md for the full description and the measured speed):
  * customers: ~90 % Chinese (Faker zh_CN name pools with frequency weights, E.164 mobiles,
    consistent province/city/district, valid 18-digit resident IDs, pinyin search keys),
    ~10 % international; ~15 % B2B contacts with a company and a valid USCC;
  * orders and events with heavy-tailed purchase frequency, Double 11 / 618 / Spring Festival
    seasonality, registration growth, churn, prospects, consults, complaints and refunds,
    stored sorted by customer_id, then time;
  * consents per channel with withdrawal history;
  * data-quality defects at the rates below, each recorded in ``demo_ground_truth``.

Same ``(n_customers, seed, as_of)`` gives the same data (except ``id_number_enc``: Fernet
tokens carry a random IV and a timestamp; ``id_number_hash`` depends on the hash key).

Speed: every column is built with numpy / pyarrow vectorised operations; orders and events
are generated per block of customers and bulk-loaded with ``INSERT INTO ... SELECT`` from
registered Arrow tables. Python loops run only over small pools (distinct names, companies),
over the ~3 % duplicate records, and over resident IDs for encryption (the privacy helper).

The package: spec (what it contains), pools (what it draws from), generator (one build, its
parts in customers, defects and activity), rows (loading SQL), load (build, fingerprint, main).
"""

from __future__ import annotations

from lib.demo.spec import (  # noqa: F401
    B2B_SHARE,
    BLOCK_CUSTOMERS,
    CANCEL_SHARE,
    CATEGORIES,
    CATEGORY_MEDIAN_CNY,
    CATEGORY_SHARES,
    CHANNELS,
    CHANNEL_SHARES,
    CHURNER_SHARE,
    CHURN_DAYS,
    CHURN_REASONS,
    CHURN_REASON_SHARE,
    CHURN_REASON_SHARES,
    CN_EMAIL_DOMAINS,
    CN_MOBILE_PREFIXES,
    COMPLAINT_NOTES,
    COMPLAINT_NOTES_EN,
    CONSULT_NOTES,
    CONSULT_NOTES_EN,
    COUNTRIES,
    DAY,
    DEFAULT_AS_OF,
    DEFECT_CODES,
    DEFECT_RATES,
    DUPLICATE_RATE,
    DemoError,
    EMAIL_SHARE_CN,
    EVENT_CHANNELS,
    EVENT_TYPES,
    HISTORY_DAYS,
    HOUR_WEIGHTS,
    IMPOSSIBLE_DATE_RATE,
    INDUSTRIES,
    INTENT_DAYS,
    INTENT_SHARE,
    INTERNATIONAL_SHARE,
    INVALID_EMAIL_RATE,
    INVALID_MOBILE_RATE,
    JOB_TITLES_ZH,
    MISSING_REQUIRED_RATE,
    MOBILE_SHARE_INTL,
    MONTH,
    MUNICIPALITIES,
    NOTES,
    ONE_TIME_SHARE,
    ORDER_CHANNELS,
    ORDER_SOURCE_PREFIX,
    ORDER_STATUSES,
    PARTIAL_REFUND_SHARE,
    POSTCODE_PREFIX,
    PROSPECT_SHARE,
    PROVINCE_WEIGHTS,
    PURCHASE_STATUSES,
    QQ_EMAIL_SHARE,
    REFUND_SHARE,
    REGISTRATION_GROWTH,
    RESIDENT_ID_SHARE,
    SOURCES,
    SPRING_FESTIVAL,
    STAGES,
    STALE_MONTHS,
    STALE_RATE,
    SURNAME_PINYIN,
    TARGET_EVENTS_PER_CUSTOMER,
    TARGET_ORDERS_PER_CUSTOMER,
    YEAR,
)
from lib.demo.pools import (  # noqa: F401
    Areas,
    Curve,
    NULL_STR,
    _areas,
)
from lib.demo.rows import (  # noqa: F401
    EMAIL_DEFECTS,
    MOBILE_DEFECTS,
    PLACEHOLDER_PATTERN,
)
from lib.demo.load import (  # noqa: F401
    FINGERPRINT_EXCLUDES,
    FINGERPRINT_TABLES,
    build,
    fingerprint,
    main,
)
