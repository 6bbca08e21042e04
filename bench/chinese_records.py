"""A realistic Chinese CRM export with known duplicates and hard negatives (independent of
lib/demo.py: its own people, duplicate processes and households).

    records, truth = generate(persons=12_000, seed=7)

`records`: one row per record (columns id, name, mobile, email, birth, address, postcode, city,
province, id_number). `truth`: per record its person_id and, for hard negatives, the group it
belongs to (household_phone, household_address, twins, common_name).

People
  * surnames drawn with realistic weights (王 李 张 刘 陈 … plus compound 欧阳 司马 诸葛),
    given names of one (35 %) or two characters from a pool of common characters;
  * 4 % of people carry one of ten very common full names (张伟, 王芳, 李娜, …) and live in one
    of three cities: same common name in one city, different people;
  * birth dates 1950–2006; a mobile for 95 %, an email for 55 %, a resident ID (valid check
    digit) for 30 %; addresses "<district><road><n>号<building>栋<unit>室" in 12 cities with
    their postcodes.

Households (hard negatives): 18 % of people live with 1–3 others: same address and postcode,
the same surname for 80 % of members; 60 % of households share one phone number, 15 % one email.
3 % of households are twins: same birth date, surname and address, different given names.

Duplicates: 25 % of people have one more record, 5 % two more (three records of one person).
Each duplicate record, independently:
  * name: 12 % a homophone character in the given name (same pinyin), 12 % Traditional
    characters (opencc s2t), 10 % romanised with pypinyin ("Zhang Wei" or "Wei Zhang", 50/50),
    4 % an input-method slip: a given-name character replaced by a common character whose
    pinyin differs by a fuzzy-pinyin confusion (zh/z, ch/c, sh/s, ng/n: 明 ming -> 民 min);
  * mobile: 25 % a new number, 8 % missing, 4 % one digit wrong, 30 % written as
    "+86 138 1234 5678" or "138-1234-5678";
  * email: 30 % dropped, 10 % a new address;
  * address: 30 % a variant (province prefix, building/unit dropped, 号 -> 號, spaces),
    8 % moved (new address and postcode in the same city);
  * birth date: 6 % missing, 3 % day and month swapped (when valid);
  * resident ID: kept on 50 % of duplicates of people who have one.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND = ("欧阳", "司马", "诸葛", "上官")
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文志永春海波晨雪梅琳"
    "宇浩博俊峰凯婷颖倩欣怡佳琪子涵轩睿嘉欢晓燕丹慧云飞斌亮鑫龙婉瑶宁楠雯悦思彤蕾薇然毅坤"
    "振宏伦磊昊天成哲远韬诚晶璐菲蓉琦琴岚露"
)
COMMON_NAMES = ("张伟", "王伟", "王芳", "李伟", "李娜", "张敏", "李静", "王静", "刘伟", "王秀英")
CITIES = (
    ("北京市", "北京市", "100"),
    ("上海市", "上海市", "200"),
    ("广东省", "广州市", "510"),
    ("广东省", "深圳市", "518"),
    ("浙江省", "杭州市", "310"),
    ("江苏省", "南京市", "210"),
    ("四川省", "成都市", "610"),
    ("湖北省", "武汉市", "430"),
    ("陕西省", "西安市", "710"),
    ("山东省", "济南市", "250"),
    ("福建省", "厦门市", "361"),
    ("湖南省", "长沙市", "410"),
)
DISTRICTS = (
    "东城区",
    "西城区",
    "朝阳区",
    "海淀区",
    "南山区",
    "福田区",
    "天河区",
    "越秀区",
    "西湖区",
    "鼓楼区",
    "武侯区",
    "江汉区",
    "雁塔区",
    "历下区",
    "思明区",
    "岳麓区",
)
ROADS = (
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "胜利路",
    "长江路",
    "黄河路",
    "文化路",
    "光明路",
    "青年路",
    "花园路",
    "滨江路",
    "科技路",
    "学府路",
)
DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "foxmail.com")
REGIONS = ("110101", "110105", "310101", "310104", "440106", "440305", "330106", "320102")


def _weights(n: int) -> list[float]:
    return [1.0 / (i + 1) ** 0.9 for i in range(n)]


class _Homophones:
    """Characters grouped by toneless pinyin, to swap one for another that sounds the same."""

    def __init__(self):
        from pypinyin import lazy_pinyin

        pool = set(GIVEN) | set(
            "维玮薇炜巍卫娅雅亚丽俐莉力立敏民珉明鸣铭静婧菁晶京强蔷杰洁婕捷涛韬"
            "平萍苹华桦骅红宏鸿虹辉晖慧惠蕙飞菲霏斐亮靓宇雨语玉钰昱佳嘉家琪琦祺"
        )
        self.by_sound: dict[str, list[str]] = {}
        for ch in pool:
            self.by_sound.setdefault(lazy_pinyin(ch)[0], []).append(ch)
        # GB2312 level-1 characters (the 3,755 most common), grouped by folded pinyin
        self.by_fold: dict[str, dict[str, list[str]]] = {}
        for hi in range(0xB0, 0xD8):
            for lo in range(0xA1, 0xFF):
                try:
                    ch = bytes((hi, lo)).decode("gb2312")
                except UnicodeDecodeError:
                    continue
                snd = lazy_pinyin(ch)[0]
                self.by_fold.setdefault(_fold(snd), {}).setdefault(snd, []).append(ch)

    def fuzzy(self, ch: str, rng: random.Random) -> str | None:
        """A character an input method offers for a fuzzy-pinyin slip (zh/z, ch/c, sh/s, ng/n)."""
        from pypinyin import lazy_pinyin

        sound = lazy_pinyin(ch)[0]
        fold = _fold(sound)
        others = sorted(c for snd, cs in self.by_fold.get(fold, {}).items() if snd != sound for c in cs)
        return rng.choice(others) if others else None

    def swap(self, ch: str, rng: random.Random) -> str | None:
        from pypinyin import lazy_pinyin

        others = [c for c in self.by_sound.get(lazy_pinyin(ch)[0], []) if c != ch]
        return rng.choice(sorted(others)) if others else None


def _fold(sound: str) -> str:
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n")):
        sound = sound.replace(a, b)
    return sound


def _id_number(birth: date, rng: random.Random) -> str:
    body = rng.choice(REGIONS) + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


def _mobile(rng: random.Random) -> str:
    return rng.choice(("13", "15", "17", "18", "19")) + str(rng.randrange(10)) + f"{rng.randrange(10**8):08d}"


def _romanised(family: str, given: str, rng: random.Random) -> str:
    from pypinyin import lazy_pinyin

    fam = "".join(lazy_pinyin(family)).capitalize()
    giv = "".join(lazy_pinyin(given)).capitalize()
    return f"{fam} {giv}" if rng.random() < 0.5 else f"{giv} {fam}"


def generate(persons: int = 12_000, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    import opencc
    from pypinyin import lazy_pinyin

    rng = random.Random(seed)
    s2t = opencc.OpenCC("s2t")
    homophones = _Homophones()
    surname_w = _weights(len(SURNAMES))
    people = []

    def new_given(avoid: set[str] = frozenset()) -> str:
        while True:
            g = "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.35 else 2))
            if "".join(lazy_pinyin(g)) not in avoid:
                return g

    def new_address(city_idx: int) -> tuple[str, str]:
        prov, city, pc = CITIES[city_idx]
        addr = (
            f"{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randrange(1, 400)}号"
            f"{rng.randrange(1, 30)}栋{rng.randrange(1, 30)}{rng.randrange(1, 9):02d}室"
        )
        return addr, f"{pc}{rng.randrange(1000):03d}"

    def person(**over) -> dict:
        city_idx = rng.randrange(len(CITIES))
        family = rng.choice(COMPOUND) if rng.random() < 0.01 else rng.choices(SURNAMES, weights=surname_w)[0]
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 56))
        address, postcode = new_address(city_idx)
        p = {
            "family": family,
            "given": new_given(),
            "birth": birth,
            "city_idx": city_idx,
            "address": address,
            "postcode": postcode,
            "mobile": _mobile(rng) if rng.random() < 0.95 else None,
            "email": None,
            "id_number": None,
            "group": None,
        }
        p.update(over)
        if rng.random() < 0.55:
            local = "".join(lazy_pinyin(p["family"] + p["given"])) + str(rng.randrange(1, 999))
            p["email"] = f"{local}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.3:
            p["id_number"] = _id_number(p["birth"], rng)
        return p

    while len(people) < persons:
        r = rng.random()
        if r < 0.04:  # same common name in one of three cities
            full = rng.choice(COMMON_NAMES)
            people.append(person(family=full[0], given=full[1:], city_idx=rng.randrange(3), group="common_name"))
        elif r < 0.04 + 0.18 / 2.5:  # a household of 2-4 (≈18 % of people)
            head = person()
            size = rng.choice((2, 2, 3, 4))
            twins = rng.random() < 0.03
            share_phone = rng.random() < 0.6
            share_email = rng.random() < 0.15
            kind = "twins" if twins else ("household_phone" if share_phone else "household_address")
            head["group"] = f"{kind}:{len(people)}"
            members = [head]
            used = {"".join(lazy_pinyin(head["given"]))}
            for k in range(1, size):
                m = person(
                    city_idx=head["city_idx"], address=head["address"], postcode=head["postcode"], group=head["group"]
                )
                m["given"] = new_given(used)
                used.add("".join(lazy_pinyin(m["given"])))
                if rng.random() < 0.8 or (twins and k == 1):
                    m["family"] = head["family"]
                if twins and k == 1:
                    m["birth"] = head["birth"]
                if share_phone:
                    m["mobile"] = head["mobile"] or _mobile(rng)
                    head["mobile"] = m["mobile"]
                if share_email and head["email"]:
                    m["email"] = head["email"]
                members.append(m)
            people.extend(members)
        else:
            people.append(person())
    people = people[:persons]

    def record(p: dict, pid: int, dup: bool) -> dict:
        prov, city, _ = CITIES[p["city_idx"]]
        family, given = p["family"], p["given"]
        name = family + given
        mobile, email, address, postcode = p["mobile"], p["email"], p["address"], p["postcode"]
        birth, idn = p["birth"], p["id_number"]
        if dup:
            r = rng.random()
            if r < 0.12:
                i = rng.randrange(len(given))
                alt = homophones.swap(given[i], rng)
                if alt:
                    name = family + given[:i] + alt + given[i + 1 :]
            elif r < 0.24:
                name = s2t.convert(name)
            elif r < 0.34:
                name = _romanised(family, given, rng)
            elif r < 0.38:
                i = rng.randrange(len(given))
                alt = homophones.fuzzy(given[i], rng)
                if alt:
                    name = family + given[:i] + alt + given[i + 1 :]
            r = rng.random()
            if r < 0.25:
                mobile = _mobile(rng)
            elif r < 0.33:
                mobile = None
            elif r < 0.37 and mobile:
                i = rng.randrange(3, 11)
                mobile = mobile[:i] + str((int(mobile[i]) + 1) % 10) + mobile[i + 1 :]
            if mobile and rng.random() < 0.3:
                mobile = (
                    f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
                    if rng.random() < 0.5
                    else f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
                )
            r = rng.random()
            if r < 0.3:
                email = None
            elif r < 0.4:
                email = "".join(lazy_pinyin(given)) + str(rng.randrange(1000, 9999)) + "@" + rng.choice(DOMAINS)
            r = rng.random()
            if r < 0.3:
                v = rng.randrange(4)
                address = (
                    prov + city + address
                    if v == 0
                    else address.split("号")[0] + "号"
                    if v == 1
                    else address.replace("号", "號")
                    if v == 2
                    else address.replace("号", "号 ")
                )
            elif r < 0.38:
                address, postcode = (
                    f"{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randrange(1, 400)}号",
                    postcode[:3] + f"{rng.randrange(1000):03d}",
                )
            r = rng.random()
            if r < 0.06:
                birth = None
            elif r < 0.09 and birth.day <= 12 and birth.day != birth.month:
                birth = birth.replace(month=birth.day, day=birth.month)
            if idn and rng.random() < 0.5:
                idn = None
        return {
            "person_id": pid,
            "name": name,
            "mobile": mobile,
            "email": email,
            "birth": birth.isoformat() if birth else None,
            "address": address,
            "postcode": postcode,
            "city": city,
            "province": prov,
            "id_number": idn,
            "group": p["group"],
        }

    rows = []
    for pid, p in enumerate(people):
        rows.append(record(p, pid, False))
        r = rng.random()
        extra = 2 if r < 0.05 else 1 if r < 0.30 else 0
        for _ in range(extra):
            rows.append(record(p, pid, True))
    rng.shuffle(rows)
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", [f"C{i:06d}" for i in range(len(frame))])
    truth = frame[["id", "person_id", "group"]].copy()
    records = frame.drop(columns=["person_id", "group"])
    return records, truth
