"""Chinese names for the synthetic region: people, places, employers, institutions, pharmacies.

All lists are yibao's own. Surname weights approximate published surname frequencies (王 李 张 刘 陈
together ≈ 30 % of the population; the hundred surnames listed cover most people, their weights are
normalised among themselves). Given names are one or two characters drawn from pools that depend on
sex and birth cohort (before 1975, 1975–1999, 2000 on), so that a 70-year-old woman is more often
秀英 and a child more often 梓涵. Place names are combinations that belong to no real city; every
institution and employer name carries the region's name (示范) so that it cannot be taken for a real one.

Drawing is vectorised: :func:`person_names` builds a million names in well under a second.

>>> import numpy as np
>>> names = person_names(np.random.default_rng(1), np.array([True, False]), np.array([1950, 2015]))
>>> [len(n) in (2, 3, 4) for n in names.to_list()]
[True, True]
>>> DISTRICTS[0], district_code(0)
('东湖区', '02')
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "CITY",
    "DISTRICTS",
    "GIVEN_POOLS",
    "PLACES",
    "SURNAMES",
    "district_code",
    "person_names",
    "place_names",
]

CITY = "示范"
"""The region's name in every institution and employer name (示范市第一人民医院)."""

# (surname, weight in ‰ of the population, approximate)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 72.5), ("李", 71.9), ("张", 67.6), ("刘", 54.3), ("陈", 46.6), ("杨", 31.6), ("黄", 23.5),
    ("赵", 22.4), ("吴", 20.5), ("周", 20.2), ("徐", 15.4), ("孙", 15.0), ("马", 14.5), ("朱", 13.7),
    ("胡", 13.2), ("郭", 12.3), ("何", 12.0), ("林", 11.6), ("高", 11.6), ("罗", 11.4), ("郑", 10.7),
    ("梁", 10.6), ("谢", 9.6), ("宋", 8.8), ("唐", 8.6), ("许", 8.4), ("韩", 8.1), ("邓", 8.0),
    ("冯", 7.8), ("曹", 7.6), ("彭", 7.4), ("曾", 7.0), ("肖", 6.7), ("田", 6.5), ("董", 6.5),
    ("潘", 6.1), ("袁", 6.1), ("蔡", 5.8), ("蒋", 5.6), ("余", 5.5), ("于", 5.4), ("杜", 5.3),
    ("叶", 5.3), ("程", 5.2), ("魏", 5.1), ("苏", 5.0), ("吕", 4.9), ("丁", 4.8), ("任", 4.7),
    ("卢", 4.6), ("姚", 4.5), ("沈", 4.4), ("钟", 4.3), ("姜", 4.3), ("崔", 4.2), ("谭", 4.1),
    ("陆", 4.0), ("范", 3.9), ("汪", 3.8), ("廖", 3.8), ("石", 3.7), ("金", 3.6), ("韦", 3.5),
    ("贾", 3.5), ("夏", 3.4), ("付", 3.4), ("方", 3.3), ("邹", 3.2), ("熊", 3.2), ("白", 3.1),
    ("孟", 3.1), ("秦", 3.0), ("邱", 3.0), ("侯", 2.9), ("江", 2.9), ("尹", 2.8), ("薛", 2.8),
    ("闫", 2.7), ("段", 2.7), ("雷", 2.6), ("龙", 2.5), ("黎", 2.5), ("史", 2.5), ("陶", 2.4),
    ("贺", 2.4), ("毛", 2.3), ("郝", 2.3), ("顾", 2.2), ("龚", 2.2), ("邵", 2.2), ("万", 2.1),
    ("覃", 2.1), ("武", 2.1), ("钱", 2.0), ("戴", 2.0), ("严", 2.0), ("莫", 1.9), ("孔", 1.9),
    ("向", 1.9), ("常", 1.8), ("汤", 1.8), ("康", 1.7), ("易", 1.7), ("乔", 1.7), ("赖", 1.6),
    ("文", 1.6), ("欧阳", 0.5), ("上官", 0.1), ("司马", 0.1), ("诸葛", 0.1),
)  # fmt: skip

# Given-name characters by (sex, cohort): 0 = born before 1975, 1 = 1975–1999, 2 = 2000 on.
GIVEN_POOLS: dict[tuple[str, int], str] = {
    ("1", 0): "建国军华明伟强平东志勇文德林海忠成荣福刚兵春生宝山峰庆民新永利金光祥贵富有才长清胜义良全明",
    ("1", 1): "浩杰磊鹏涛超斌俊晨宇飞帅凯博鑫亮波健龙阳辉旭毅峰军伟明刚强勇斌成浩然睿",
    ("1", 2): "子梓轩浩宇然睿泽铭皓俊博文豪辰逸航一宸煜奕诺沐安瑞嘉承熙彦霖昊晟哲宁锦",
    ("2", 0): "秀英兰芳桂珍玉凤霞华琴梅淑丽红萍敏静云芬翠荣香莲菊花美金爱素平",
    ("2", 1): "婷丽娟静敏燕艳玲雪倩颖琳洁佳晶欢蕾璐雯慧丹莉芳露瑶霞媛娜薇",
    ("2", 2): "子梓涵欣怡诗雨萱一可思语若依妍晨汐沫悦彤嘉琪馨月安乐雅紫芷宁茜",
}

_ONE_CHAR_SHARE = (0.30, 0.22, 0.10)  # share of one-character given names by cohort

_DISTRICT_STEMS = (
    ("东湖", "区"), ("西岭", "区"), ("南川", "区"), ("北塘", "区"), ("高新", "区"), ("青云", "县"),
    ("白石", "县"), ("安和", "县"), ("永宁", "县"), ("临江", "县"), ("长乐", "县"), ("丰泽", "县"),
)  # fmt: skip
DISTRICTS: tuple[str, ...] = tuple(a + b for a, b in _DISTRICT_STEMS)
"""The region's districts and counties; district ``i`` has the area code ``99`` + region digits + :func:`district_code`."""

_PLACE_FIRST = "东西南北中新长安和平永兴富康宁阳华青湖山金银玉龙凤桃柳松竹梅兰文德仁福"
_PLACE_SECOND = "山河湖桥塘林源园坪庄集岭口湾溪泉田坝店门街关堡"
PLACES: tuple[str, ...] = tuple(a + b for a in _PLACE_FIRST for b in _PLACE_SECOND if a != b)
"""Two-character names of towns, streets and neighbourhoods (镇, 街道, 社区)."""


def district_code(i: int) -> str:
    """The last two digits of district ``i``'s area code: 02, 03, … (01 is the city itself).

    >>> [district_code(i) for i in (0, 4, 5, 11)]
    ['02', '06', '21', '27']
    """
    n_urban = sum(1 for _, kind in _DISTRICT_STEMS if kind == "区")
    return f"{2 + i:02d}" if i < n_urban else f"{21 + i - n_urban:02d}"


def _pool_arrays() -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    keys = [(s, c) for s in ("1", "2") for c in (0, 1, 2)]
    chars = np.array([ch for k in keys for ch in GIVEN_POOLS[k]], dtype=object)
    sizes = np.array([len(GIVEN_POOLS[k]) for k in keys], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return chars, sizes, offsets


_CHARS, _SIZES, _OFFSETS = _pool_arrays()
_SURNAME_TEXT = pl.Series("s", [s for s, _ in SURNAMES], dtype=pl.String)
_SURNAME_CUM = np.cumsum([w for _, w in SURNAMES]) / sum(w for _, w in SURNAMES)
_CHAR_SERIES = pl.Series("c", list(_CHARS), dtype=pl.String)


def _cohort(birth_year: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.where(birth_year < 1975, 0, np.where(birth_year < 2000, 1, 2)).astype(np.int64)


def person_names(
    rng: np.random.Generator, male: npt.NDArray[np.bool_], birth_year: npt.NDArray[np.int64]
) -> pl.Series:
    """One name per person: a surname by frequency and one or two given-name characters.

    ``male`` is True for men, ``birth_year`` whole years; both arrays have one entry per person.
    """
    n = len(male)
    cohort = _cohort(np.asarray(birth_year))
    pool = np.where(np.asarray(male), 0, 3) + cohort
    surname = np.minimum(np.searchsorted(_SURNAME_CUM, rng.random(n), side="right"), len(SURNAMES) - 1)
    first = _OFFSETS[pool] + (rng.random(n) * _SIZES[pool]).astype(np.int64)
    second = _OFFSETS[pool] + (rng.random(n) * _SIZES[pool]).astype(np.int64)
    one_char = rng.random(n) < np.asarray(_ONE_CHAR_SHARE)[cohort]
    frame = pl.DataFrame(
        {
            "s": _SURNAME_TEXT.gather(surname),
            "a": _CHAR_SERIES.gather(first),
            "b": _CHAR_SERIES.gather(second),
            "one": one_char,
        }
    )
    return frame.select(
        pl.when(pl.col("one"))
        .then(pl.concat_str("s", "a"))
        .otherwise(pl.concat_str("s", "a", "b"))
        .alias("psn_name")
    ).to_series()


def place_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct place names (repeating with a number once all are used), in random order."""
    order = rng.permutation(len(PLACES))
    return [
        PLACES[order[i % len(PLACES)]] + ("" if i < len(PLACES) else str(i // len(PLACES) + 1))
        for i in range(n)
    ]
