"""Realistic-looking Chinese demo identities: names, national IDs, mobiles, cards, employers,
home addresses, emergency contacts and network addresses.

Everything is drawn from a `random.Random` the caller owns, so a borrower's identity depends
only on the seed. None of it is real: national IDs have a valid check digit and a real area
code but random birth sequences, card numbers pass the Luhn check behind a real bank's BIN.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import accumulate

# (surname, weight): the most common surnames with roughly their share of the population (%).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.2),
    ("赵", 2.0),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.3),
    ("孙", 1.3),
    ("马", 1.1),
    ("朱", 1.1),
    ("胡", 1.0),
    ("郭", 1.0),
    ("何", 0.9),
    ("高", 0.9),
    ("林", 0.9),
    ("罗", 0.8),
    ("郑", 0.7),
    ("梁", 0.7),
    ("谢", 0.6),
    ("宋", 0.5),
    ("唐", 0.5),
    ("许", 0.5),
    ("韩", 0.5),
    ("冯", 0.4),
    ("邓", 0.4),
    ("曹", 0.4),
    ("彭", 0.4),
    ("曾", 0.4),
    ("肖", 0.4),
    ("田", 0.3),
    ("董", 0.3),
    ("袁", 0.3),
    ("潘", 0.3),
    ("于", 0.3),
    ("蒋", 0.3),
    ("蔡", 0.3),
    ("余", 0.3),
    ("杜", 0.3),
    ("叶", 0.3),
    ("程", 0.3),
    ("苏", 0.3),
    ("魏", 0.3),
    ("吕", 0.3),
    ("丁", 0.3),
    ("任", 0.3),
    ("沈", 0.3),
    ("欧阳", 0.05),
)
MALE_CHARS = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国志文博晨轩子睿宏海东亮峰"
)
FEMALE_CHARS = "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳倩萍红莉晶洁欣怡佳梦璐瑶雯蕾悦思雨诗涵嘉月"

# (city, urban population in millions as the weight, district area codes for the ID prefix).
CITIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("上海", 24.9, ("310104", "310115", "310112")),
    ("北京", 21.9, ("110105", "110108", "110106")),
    ("成都", 21.0, ("510104", "510107")),
    ("重庆", 20.0, ("500103", "500105")),
    ("广州", 18.8, ("440103", "440106")),
    ("深圳", 17.7, ("440303", "440305")),
    ("天津", 13.7, ("120101", "120104")),
    ("武汉", 13.7, ("420102", "420106")),
    ("西安", 13.0, ("610102", "610113")),
    ("苏州", 12.9, ("320505", "320506")),
    ("郑州", 12.8, ("410102", "410105")),
    ("杭州", 12.4, ("330102", "330106")),
    ("石家庄", 11.2, ("130102",)),
    ("东莞", 10.5, ("441900",)),
    ("长沙", 10.4, ("430102", "430104")),
    ("青岛", 10.3, ("370202",)),
    ("哈尔滨", 9.9, ("230102",)),
    ("合肥", 9.6, ("340102",)),
    ("佛山", 9.6, ("440604",)),
    ("南京", 9.5, ("320102", "320106")),
    ("济南", 9.4, ("370102",)),
    ("沈阳", 9.1, ("210102",)),
    ("南宁", 8.9, ("450102",)),
    ("昆明", 8.5, ("530102",)),
    ("福州", 8.4, ("350102",)),
)

# (bank, BIN, card length): debit cards as a payout account would be.
BANKS: tuple[tuple[str, str, int, float], ...] = (
    ("中国工商银行", "622202", 19, 18),
    ("中国建设银行", "621700", 19, 16),
    ("中国农业银行", "622848", 19, 14),
    ("中国银行", "621661", 19, 10),
    ("招商银行", "622588", 16, 10),
    ("交通银行", "622260", 19, 6),
    ("中国邮政储蓄银行", "621799", 19, 8),
    ("中信银行", "622690", 16, 4),
    ("浦发银行", "622521", 16, 4),
    ("兴业银行", "622909", 18, 4),
    ("平安银行", "623058", 19, 3),
    ("民生银行", "622622", 16, 3),
)

EMPLOYERS = (
    "华为技术有限公司",
    "腾讯科技（深圳）有限公司",
    "阿里巴巴（中国）有限公司",
    "中国移动通信集团",
    "顺丰速运有限公司",
    "北京三快在线科技有限公司",
    "京东物流集团",
    "比亚迪股份有限公司",
    "富士康科技集团",
    "国家电网有限公司",
    "中国平安保险（集团）股份有限公司",
    "招商银行股份有限公司",
    "四川海底捞餐饮股份有限公司",
    "万科企业股份有限公司",
    "美的集团股份有限公司",
    "小米科技有限责任公司",
    "中国建筑第三工程局",
    "上海汽车集团股份有限公司",
    "苏宁易购集团股份有限公司",
    "宁德时代新能源科技",
)
# Small local employers are most of the book: built as "<city><trade><form>".
EMPLOYER_TRADES = (
    "商贸",
    "餐饮管理",
    "物流",
    "建筑工程",
    "电子科技",
    "家政服务",
    "汽车维修",
    "装饰工程",
    "网络科技",
    "服装",
    "医药连锁",
    "教育咨询",
)
EMPLOYER_FORMS = ("有限公司", "有限责任公司", "经营部", "店")
SELF_EMPLOYED = ("个体经营", "自由职业", "网约车司机", "外卖骑手")

# Lenders a multi-lender borrower moves money to right after a drawdown.
OTHER_LENDERS = (
    "重庆蚂蚁消费金融有限公司",
    "深圳前海微众银行（微粒贷）",
    "京东金条",
    "360借条",
    "度小满金融",
    "招联消费金融有限公司",
    "马上消费金融股份有限公司",
    "分期乐",
    "中银消费金融（安逸花）",
    "平安普惠",
    "美团借钱",
)
MERCHANTS = (
    "京东商城",
    "天猫超市",
    "携程旅行网",
    "苏宁易购",
    "链家地产",
    "新东方教育",
    "美团",
    "国美电器",
    "红星美凯龙",
    "爱尔眼科",
)

MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
)
IDENTITY_SOURCES = ("公安部身份信息核验", "运营商三要素核验", "银联四要素核验")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    """Cumulative weights for `random.choices(cum_weights=...)` (faster than weights=)."""
    return list(accumulate(weights))


SURNAME_CUM = cumulative([w for _, w in SURNAMES])
CITY_CUM = cumulative([w for _, w, _ in CITIES])
BANK_CUM = cumulative([w for *_, w in BANKS])


def id_check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of an 18-digit national ID."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def luhn_digit(partial: str) -> str:
    """The Luhn check digit to append to a card number."""
    total = 0
    for i, c in enumerate(reversed(partial)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def person_name(rng: random.Random, *, male: bool) -> str:
    surname = rng.choices(SURNAMES, cum_weights=SURNAME_CUM)[0][0]
    chars = MALE_CHARS if male else FEMALE_CHARS
    given = rng.choice(chars) if rng.random() < 0.35 else rng.choice(chars) + rng.choice(chars)
    return surname + given


def pick_city(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    name, _, areas = rng.choices(CITIES, cum_weights=CITY_CUM)[0]
    return name, areas


def national_id(rng: random.Random, *, area: str, birth: date, male: bool) -> str:
    # The 17th digit is odd for men, even for women.
    seq = rng.randrange(0, 100) * 10 + rng.randrange(1 if male else 0, 10, 2)
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def birth_date(rng: random.Random, *, on: date) -> date:
    """A birthday making the person 20-55 years old on `on` (younger ones more likely)."""
    age_days = int(365.25 * (20 + 35 * rng.random() ** 1.4))
    return on - timedelta(days=age_days)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def card(rng: random.Random) -> tuple[str, str]:
    """(bank name, card number) of a debit card."""
    bank, bin_, length, _ = rng.choices(BANKS, cum_weights=BANK_CUM)[0]
    body = bin_ + "".join(str(rng.randrange(10)) for _ in range(length - len(bin_) - 1))
    return bank, body + luhn_digit(body)


def employer(rng: random.Random, city: str) -> str:
    u = rng.random()
    if u < 0.08:
        return ""
    if u < 0.30:
        return rng.choice(EMPLOYERS)
    if u < 0.42:
        return rng.choice(SELF_EMPLOYED)
    return city + rng.choice(EMPLOYER_TRADES) + rng.choice(EMPLOYER_FORMS)


def device_id(rng: random.Random, platform: str) -> str:
    """An Android ID (16 hex) or an iOS identifierForVendor (a UUID)."""
    if platform == "android":
        return f"{rng.getrandbits(64):016x}"
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def account_no(rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(rng.choice((16, 19))))


# Street names common to most Chinese cities, and the kinds of residential compound.
ROADS = (
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "光明路",
    "文化路",
    "胜利路",
    "青年路",
    "朝阳路",
    "滨江路",
    "学府路",
    "工业大道",
    "迎宾大道",
)
COMPOUNDS = ("小区", "花园", "家园", "公寓", "新村", "苑")
COMPOUND_NAMES = "阳光金色幸福锦绣华府翠湖碧水东方明珠世纪龙湖万科恒大保利绿地富力"


def home_address(rng: random.Random, city: str) -> str:
    """A street address down to the flat: "<city>市<road><n>号<compound><b>栋<u>单元<room>室".

    About four million combinations per city, so two unrelated borrowers practically never
    share one by chance: a shared address is a household or a ring.
    """
    compound = rng.choice(COMPOUND_NAMES[::2]) + rng.choice(COMPOUND_NAMES[1::2])
    room = f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}"
    return (
        f"{city}市{rng.choice(ROADS)}{rng.randint(1, 999)}号{compound}{rng.choice(COMPOUNDS)}"
        f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{room}室"
    )


def relative_name(rng: random.Random, surname_of: str) -> str:
    """An emergency contact's name: a parent or sibling half the time (the same surname)."""
    if rng.random() < 0.5:
        chars = MALE_CHARS if rng.random() < 0.5 else FEMALE_CHARS
        given = rng.choice(chars) if rng.random() < 0.35 else rng.choice(chars) + rng.choice(chars)
        surname = surname_of[:2] if surname_of.startswith("欧阳") else surname_of[:1]
        return surname + given
    return person_name(rng, male=rng.random() < 0.5)


# First octets of Chinese broadband and mobile carriers' public ranges.
IP_FIRST_OCTETS = (36, 58, 113, 116, 117, 120, 183, 223)


def ip_address(rng: random.Random) -> str:
    """A public IPv4 address, as a home Wi-Fi router or a mobile network shows it."""
    first = rng.choice(IP_FIRST_OCTETS)
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
