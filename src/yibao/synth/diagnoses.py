"""Diagnoses and procedures of the synthetic region: conditions that fit age and sex, with 医保版 codes.

A :class:`Condition` is one clinical picture the care generator can give an encounter: its principal
ICD-10 医保版 diagnosis, the department that treats it, who gets it (sex, age, relative weight by age
band for general outpatient visits, inpatient stays and registered chronic disease), its season, its
relative length of stay and cost, its procedures (ICD-9-CM-3 医保版) and the catalogue items a doctor
would order for it (drugs, tests, treatments, by catalogue name). :data:`CONDITIONS` is yibao's own
list; the codes and names are the national ones.

Codes and names come from the CHS-DRG 1.1 tables when they are present (:func:`drg_tables`: the
``MDC/*.dat`` files list the principal diagnoses of each MDC with names, ``5_MCC.txt`` and ``6_CC.txt``
secondary diagnoses, ``4_ADRG_DETAIL.txt`` procedures): a condition's ``variants`` prefixes then add
the table's more specific codes (e.g. ``J18`` → 大叶性肺炎, 支气管肺炎 …), and the official names
replace the built-in ones. Without the tables, the built-in code and name of each condition, each
comorbidity and each procedure (about 150 codes in all) are used. The tables are read, never copied.

>>> c = CONDITIONS_BY_KEY["appendicitis"]
>>> c.code, c.name, c.caty
('K35.800x001', '急性阑尾炎', 'A04.01')
>>> fits(CONDITIONS_BY_KEY["caesarean"], gend="1", age=30), fits(CONDITIONS_BY_KEY["bph"], gend="1", age=70)
(False, True)
>>> age_band(np.array([0, 3, 30, 80])).tolist()
[0, 1, 3, 6]
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "AGE_BANDS",
    "COMORBIDITIES",
    "CONDITIONS",
    "CONDITIONS_BY_KEY",
    "DRG_TABLES_ENV",
    "Comorbidity",
    "Condition",
    "IcdTables",
    "Procedure",
    "age_band",
    "code_book",
    "drg_tables",
    "drg_tables_folder",
    "fits",
]

AGE_BANDS = (0, 1, 5, 15, 45, 60, 75)
"""Lower bounds of the age bands used for weights: <1, 1–4, 5–14, 15–44, 45–59, 60–74, 75+."""
BAND_LABELS = ("<1", "1-4", "5-14", "15-44", "45-59", "60-74", "75+")
DRG_TABLES_ENV = "YIBAO_DRG_TABLES"
"""Environment variable naming the CHS-DRG 1.1 tables folder (default ../shared/data/chs-drg-1.1)."""

W7 = tuple[float, float, float, float, float, float, float]
_ZERO: W7 = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def age_band(age: np.ndarray) -> np.ndarray:
    """The index (0–6) of the age band of each age in whole years."""
    return np.searchsorted(np.asarray(AGE_BANDS), np.asarray(age), side="right") - 1


@dataclass(frozen=True, slots=True)
class Procedure:
    """A procedure (ICD-9-CM-3 医保版) with the catalogue lines it is billed with.

    Attributes:
        code / name: the principal procedure of the stay (setl_list_oprn_d, main_oprn_flag 1).
        service: catalogue name of the 手术费 (or 治疗费) line; the procedure is only used when the
            catalogue has this item at the hospital's level.
        anaesthesia: catalogue name of the anaesthesia line, or "".
        consumables: (catalogue name, count) of the consumables used in the operation.
        secondary: further procedure rows (code, name), main_oprn_flag 0.
        min_level: lowest hospital level that performs it ("1", "2", "3").
        day_surgery: share of these operations done as 日间手术 (med_type 28, one day).
        weight: relative weight among the condition's procedures.
    """

    code: str
    name: str
    service: str
    anaesthesia: str = ""
    consumables: tuple[tuple[str, int], ...] = ()
    secondary: tuple[tuple[str, str], ...] = ()
    min_level: str = "1"
    day_surgery: float = 0.0
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Condition:
    """A clinical picture: principal diagnosis, who gets it, how it is treated. See the module docstring.

    Weights are relative, per age band (:data:`AGE_BANDS`), among the conditions of one kind of encounter;
    ``chronic`` is a prevalence (share of the persons of the band registered with it for 门诊慢特病).
    Drugs, tests and treatments are catalogue names; a drug restricted to indications is only ordered
    when every code of the condition matches one of them.
    """

    key: str
    code: str
    name: str
    caty: str
    variants: tuple[str, ...] = ()
    sex: str | None = None
    age_min: int = 0
    age_max: int = 150
    outpatient: W7 = _ZERO
    emergency: float = 0.05
    inpatient: W7 = _ZERO
    chronic: W7 = _ZERO
    chronic_visits: float = 1.0
    season: str = "flat"
    los: float = 1.0
    cost: float = 1.0
    procedures: tuple[Procedure, ...] = ()
    surgical_share: float = 0.0
    surgical_only: bool = False
    drugs: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    treatments: tuple[str, ...] = ()
    always: tuple[str, ...] = ()
    injury: bool = False
    acute: float = 0.1
    cancer: bool = False
    extra_codes: tuple[tuple[str, str], ...] = field(default=())


def fits(condition: Condition, *, gend: str, age: int) -> bool:
    """Whether a person of this sex and age may have the condition at all."""
    if condition.sex is not None and gend != condition.sex:
        return False
    return condition.age_min <= age <= condition.age_max


# ---------------------------------------------------------------------------------------------
# Catalogue names of tests and treatments (the short names used in the table below)
# ---------------------------------------------------------------------------------------------

TEST_NAMES: dict[str, str] = {
    "血常规": "血细胞分析(血常规)",
    "尿常规": "尿液分析(尿常规)",
    "胆红素": "血清总胆红素测定(肝功能)",
    "ALT": "血清丙氨酸氨基转移酶测定(肝功能)",
    "肌酐": "血清肌酐测定(肾功能)",
    "尿酸": "血清尿酸测定(肾功能)",
    "血糖": "葡萄糖测定(血糖)",
    "糖化": "糖化血红蛋白测定",
    "胆固醇": "血清总胆固醇测定",
    "CRP": "C反应蛋白测定(CRP)",
    "PCT": "降钙素原检测(PCT)",
    "D二聚体": "D-二聚体测定",
    "BNP": "B型钠尿肽(BNP)测定",
    "HBsAg": "乙型肝炎表面抗原测定(HBsAg)",
    "HIV": "人免疫缺陷病毒抗体测定(Anti-HIV)",
    "hCG": "尿人绒毛膜促性腺激素测定(尿妊娠试验)",
    "PSA": "总前列腺特异性抗原测定(tPSA)",
    "HPV": "人乳头瘤病毒(HPV)核酸检测",
    "血型": "ABO血型鉴定",
    "TCT": "宫颈液基薄层细胞学检查(TCT)",
    "病理": "活检组织病理学检查与诊断",
    "DR": "数字化X线摄影(DR)胸部正位",
    "CT": "X线计算机体层(CT)平扫",
    "CT增强": "X线计算机体层(CT)增强扫描",
    "MRI": "磁共振(MRI)平扫",
    "MRI增强": "磁共振(MRI)增强扫描",
    "PET": "正电子发射计算机断层显像(PET/CT)",
    "B超": "B超常规检查",
    "彩超": "彩色多普勒超声常规检查",
    "心超": "超声心动图(心脏彩超)",
    "阴超": "经阴道超声检查",
    "胎超": "胎儿系统超声筛查",
    "心电图": "常规心电图检查",
    "动态心电": "动态心电图",
    "脑电图": "脑电图",
    "胃镜": "电子胃镜检查",
    "肠镜": "电子结肠镜检查",
    "阴道镜": "阴道镜检查",
    "验光": "验光",
    # treatments
    "肌注": "肌肉注射",
    "静注": "静脉注射",
    "输液": "静脉输液",
    "小儿输液": "小儿头皮静脉输液",
    "换药": "换药(小)",
    "换药中": "换药(中)",
    "雾化": "雾化吸入",
    "吸氧": "氧气吸入",
    "洗胃": "洗胃",
    "导尿": "导尿",
    "放疗": "调强放射治疗(IMRT)",
    "透析": "血液透析",
    "高压氧": "高压氧舱治疗",
    "碎石": "体外冲击波碎石",
    "补牙": "龋齿充填术(补牙)",
    "洗牙": "牙周洁治术(洗牙)",
    "运动疗法": "运动疗法",
    "偏瘫训练": "偏瘫肢体综合训练",
    "理疗": "超短波治疗(康复理疗)",
    "针灸": "普通针刺(针灸)",
    "艾灸": "艾灸",
    "推拿": "推拿(颈椎病)",
    "小儿推拿": "小儿推拿",
    "清创": "清创缝合术(小)",
    "呼吸机": "呼吸机辅助呼吸",
    "心肺复苏": "心肺复苏术",
}


def _t(*short: str) -> tuple[str, ...]:
    return tuple(TEST_NAMES[s] for s in short)


# ---------------------------------------------------------------------------------------------
# Procedures
# ---------------------------------------------------------------------------------------------

_GA = "全身麻醉"
_SA = "椎管内麻醉"
_LA = "局部浸润麻醉"
_SUTURE = ("可吸收性外科缝线", 2)
_GAUZE = ("医用脱脂纱布块", 10)

P_APPENDIX_LAP = Procedure("47.0100", "腹腔镜下阑尾切除术", "阑尾切除术", _GA,
                           (("一次性使用腹腔镜穿刺器", 3), _SUTURE, _GAUZE), weight=0.6)
P_APPENDIX = Procedure("47.0901", "阑尾切除术", "阑尾切除术", _SA, (_SUTURE, _GAUZE), weight=0.4)
P_CHOLE = Procedure("51.2300", "腹腔镜下胆囊切除术", "腹腔镜胆囊切除术", _GA,
                    (("一次性使用腹腔镜穿刺器", 3), ("超声刀头", 1), _SUTURE, _GAUZE), min_level="2")
P_CAESAREAN = Procedure("74.1x01", "剖宫产术，子宫下段横切口", "剖宫产术", _SA, (_SUTURE, _GAUZE, ("一次性使用导尿管(双腔气囊)", 1)))
P_PCI = Procedure("36.0601", "冠状动脉药物涂层支架置入术", "经皮冠状动脉支架置入术(PCI)", _LA,
                  (("冠状动脉药物洗脱支架", 1), ("冠状动脉球囊扩张导管(PTCA)", 1), ("冠状动脉导引导丝", 1)),
                  secondary=(("88.5600", "用两根导管的冠状动脉造影术"),), min_level="2")
P_ANGIO = Procedure("88.5600", "用两根导管的冠状动脉造影术", "冠状动脉造影术", _LA, (("冠状动脉导引导丝", 1),), min_level="2")
P_THA = Procedure("81.5100", "全髋关节置换", "人工全髋关节置换术", _GA,
                  (("人工髋关节假体(全髋)", 1), ("骨水泥", 1), _SUTURE, ("一次性使用导尿管(双腔气囊)", 1)), min_level="2")
P_TKA = Procedure("81.5400", "全部膝关节置换", "人工全膝关节置换术", _GA,
                  (("人工膝关节假体(全膝)", 1), ("骨水泥", 1), _SUTURE), min_level="2")
P_CATARACT = Procedure("13.4100x001", "白内障超声乳化抽吸术", "白内障超声乳化摘除术+人工晶体植入术", _LA,
                       (("单焦点人工晶状体", 1),), secondary=(("13.7000", "置入人工晶状体"),), min_level="2",
                       day_surgery=0.7)
P_TURP = Procedure("60.2900x004", "经尿道前列腺等离子电切术", "经尿道前列腺电切术(TURP)", _SA,
                   (("一次性使用导尿管(双腔气囊)", 1),), min_level="2")
P_CIRCUMCISION = Procedure("64.0x00", "包皮环切术", "包皮环切术", _LA, (_SUTURE,), day_surgery=0.8)
P_ABORTION = Procedure("69.5101", "负压吸引人工流产术", "负压吸宫术(人工流产)", _LA, (), day_surgery=0.8)
P_DEBRIDEMENT = Procedure("86.2201", "皮肤伤口切除性清创术", "清创缝合术(小)", _LA, (_SUTURE, _GAUZE))
P_DIALYSIS = Procedure("39.9500", "血液透析", "血液透析", "", (("血液透析器", 1), ("血液透析管路", 1)))
P_CHEMO = Procedure("99.2500", "注射或输注癌瘤化学治疗药物", "静脉输液", "", (), day_surgery=0.0)
P_RADIO = Procedure("92.2400", "光子远距离放射疗法", "调强放射治疗(IMRT)", "", (), min_level="2")
P_LITHO = Procedure("98.5100", "肾、输尿管和膀胱体外冲击波碎石[ESWL]", "体外冲击波碎石", "", (), min_level="2")
P_VENTILATION = Procedure("96.7101", "呼吸机治疗[小于96小时]", "呼吸机辅助呼吸", "", (("一次性使用气管插管(带气囊)", 1), ("一次性使用吸痰管", 6)), min_level="2")

PROCEDURES: tuple[Procedure, ...] = (
    P_APPENDIX_LAP, P_APPENDIX, P_CHOLE, P_CAESAREAN, P_PCI, P_ANGIO, P_THA, P_TKA, P_CATARACT, P_TURP,
    P_CIRCUMCISION, P_ABORTION, P_DEBRIDEMENT, P_DIALYSIS, P_CHEMO, P_RADIO, P_LITHO, P_VENTILATION,
)  # fmt: skip
"""Every built-in procedure. Only procedures whose fee exists in the starter catalogue are listed (it has
no fee for fracture fixation, hernia repair, hysterectomy or pacemakers, so those stays are conservative)."""

# ---------------------------------------------------------------------------------------------
# Drug groups (catalogue names)
# ---------------------------------------------------------------------------------------------

_COLD = ("连花清瘟胶囊", "感冒清热颗粒", "板蓝根颗粒", "对乙酰氨基酚片", "布洛芬缓释胶囊", "双黄连口服液",
         "蒲地蓝消炎口服液", "蓝芩口服液", "小儿豉翘清热颗粒", "对乙酰氨基酚混悬滴剂", "布洛芬混悬液")
_ANTIBIOTIC_ORAL = ("阿莫西林胶囊", "头孢呋辛酯片", "阿奇霉素片", "阿莫西林克拉维酸钾片", "左氧氟沙星片")
_ANTIHYPERTENSIVE = ("苯磺酸氨氯地平片", "硝苯地平控释片", "缬沙坦胶囊", "氯沙坦钾片", "马来酸依那普利片",
                     "酒石酸美托洛尔片", "富马酸比索洛尔片", "沙库巴曲缬沙坦钠片")
_DIABETES = ("盐酸二甲双胍片", "阿卡波糖片", "格列美脲片", "磷酸西格列汀片", "达格列净片", "甘精胰岛素注射液",
             "门冬胰岛素注射液", "生物合成人胰岛素注射液", "利拉鲁肽注射液", "司美格鲁肽注射液")
_CORONARY = ("阿司匹林肠溶片", "硫酸氢氯吡格雷片", "阿托伐他汀钙片", "瑞舒伐他汀钙片", "酒石酸美托洛尔片", "硝酸甘油片",
             "复方丹参滴丸", "速效救心丸", "麝香保心丸", "通心络胶囊", "参松养心胶囊", "依洛尤单抗注射液", "丹红注射液")
_STROKE = ("阿司匹林肠溶片", "硫酸氢氯吡格雷片", "阿托伐他汀钙片", "丁苯酞软胶囊", "银杏叶片", "血塞通软胶囊", "脑心通胶囊",
           "丹红注射液", "注射用血栓通(冻干)", "舒血宁注射液")
_GI = ("奥美拉唑肠溶胶囊", "雷贝拉唑钠肠溶片", "法莫替丁片", "多潘立酮片", "阿莫西林胶囊", "甲硝唑片")
_PAIN = ("塞来昔布胶囊", "布洛芬缓释胶囊", "活血止痛胶囊", "云南白药胶囊")
_WOMEN_TCM = ("益母草颗粒", "乌鸡白凤丸", "桂枝茯苓胶囊", "逍遥丸")
_LUNG_CA = ("注射用培美曲塞二钠", "顺铂注射液", "紫杉醇注射液", "甲磺酸奥希替尼片", "吉非替尼片", "贝伐珠单抗注射液",
            "信迪利单抗注射液", "盐酸昂丹司琼注射液", "平消胶囊")
_CHEMO_SUPPORT = ("盐酸昂丹司琼注射液", "地塞米松磷酸钠注射液", "平消胶囊")

# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------

CONDITIONS: tuple[Condition, ...] = (
    # --- respiratory ---------------------------------------------------------------------------
    Condition("urti", "J06.900", "急性上呼吸道感染", "A03.01", variants=("J06.9",), outpatient=(30, 35, 25, 12, 8, 6, 5),
              emergency=0.08, inpatient=(2, 2, 1, 0.2, 0.1, 0.1, 0.1), season="winter", los=0.6, cost=0.5,
              drugs=_COLD + _ANTIBIOTIC_ORAL[:3], tests=_t("血常规", "CRP"), treatments=_t("雾化", "小儿输液", "输液")),
    Condition("pharyngitis", "J02.900", "急性咽炎", "A11", outpatient=(2, 6, 8, 6, 4, 3, 2), season="winter",
              drugs=("蒲地蓝消炎口服液", "蓝芩口服液", "阿莫西林胶囊", "头孢呋辛酯片", "牛黄解毒片", "双黄连口服液"),
              tests=_t("血常规", "CRP")),
    Condition("tonsillitis", "J03.900", "急性扁桃体炎", "A11", outpatient=(1, 6, 6, 2, 0.5, 0.3, 0.2),
              inpatient=(0, 1, 1, 0.3, 0, 0, 0), season="winter", los=0.6, cost=0.5,
              drugs=("阿莫西林胶囊", "头孢呋辛酯片", "蒲地蓝消炎口服液", "布洛芬混悬液", "对乙酰氨基酚片"),
              tests=_t("血常规", "CRP"), treatments=_t("输液")),
    Condition("influenza", "J11.100", "流行性感冒伴有其他呼吸道表现，病毒未标明", "A03.01", outpatient=(3, 6, 6, 3, 2, 2, 2),
              emergency=0.15, inpatient=(1, 1, 0.5, 0.2, 0.2, 0.5, 1), season="winter", los=0.7, cost=0.6,
              drugs=("磷酸奥司他韦胶囊", "连花清瘟胶囊", "对乙酰氨基酚片", "布洛芬混悬液", "小儿豉翘清热颗粒"),
              tests=_t("血常规", "CRP")),
    Condition("bronchitis", "J20.900", "急性支气管炎", "A03.01", outpatient=(6, 10, 8, 4, 4, 5, 6), emergency=0.05,
              inpatient=(3, 4, 2, 0.5, 0.5, 1, 1.5), season="winter", los=0.8, cost=0.6,
              drugs=("阿莫西林胶囊", "头孢呋辛酯片", "阿奇霉素片", "盐酸氨溴索注射液", "小儿肺咳颗粒", "连花清瘟胶囊"),
              tests=_t("血常规", "CRP", "DR"), treatments=_t("雾化")),
    Condition("pneumonia", "J18.900", "肺炎", "A03.01", variants=("J18.0", "J18.1", "J18.9"),
              outpatient=(4, 6, 3, 1, 1, 2, 3), emergency=0.15, inpatient=(25, 30, 15, 4, 5, 9, 14), season="winter",
              los=1.0, cost=0.9, acute=0.25,
              drugs=("注射用头孢曲松钠", "注射用阿奇霉素", "左氧氟沙星片", "注射用哌拉西林钠他唑巴坦钠", "盐酸氨溴索注射液",
                     "小儿肺咳颗粒", "注射用头孢哌酮钠舒巴坦钠", "清开灵注射液"),
              tests=_t("血常规", "CRP", "PCT", "DR", "CT"), treatments=_t("雾化", "吸氧", "输液")),
    Condition("bronchiolitis", "J21.900", "急性细支气管炎", "A07", age_max=2, outpatient=(5, 1, 0, 0, 0, 0, 0),
              inpatient=(10, 2, 0, 0, 0, 0, 0), season="winter", los=0.8, cost=0.7,
              drugs=("盐酸氨溴索注射液", "小儿肺咳颗粒", "注射用阿奇霉素"), tests=_t("血常规", "CRP", "DR"),
              treatments=_t("雾化", "吸氧")),
    Condition("asthma", "J45.900", "哮喘", "A03.01", variants=("J45.0", "J45.9"), age_min=2,
              outpatient=(0, 1.5, 3, 1.5, 1.5, 1.5, 1.5), emergency=0.15, inpatient=(0, 1, 1.5, 0.5, 0.5, 0.8, 1),
              chronic=(0, 0.003, 0.006, 0.003, 0.004, 0.005, 0.006), season="winter", los=0.8, cost=0.8,
              drugs=("布地奈德福莫特罗吸入粉雾剂", "硫酸沙丁胺醇吸入气雾剂", "孟鲁司特钠咀嚼片", "注射用甲泼尼龙琥珀酸钠"),
              tests=_t("血常规", "DR"), treatments=_t("雾化", "吸氧")),
    Condition("copd", "J44.100", "慢性阻塞性肺病伴有急性加重", "A03.01", variants=("J44.1",), age_min=35,
              outpatient=(0, 0, 0, 0.1, 1, 3, 4), inpatient=(0, 0, 0, 0.1, 2, 8, 12),
              chronic=(0, 0, 0, 0.0005, 0.008, 0.03, 0.055), season="winter", los=1.2, cost=1.0, acute=0.2,
              drugs=("布地奈德福莫特罗吸入粉雾剂", "噻托溴铵吸入粉雾剂", "硫酸沙丁胺醇吸入气雾剂", "注射用头孢曲松钠",
                     "盐酸氨溴索注射液", "注射用甲泼尼龙琥珀酸钠", "左氧氟沙星片"),
              tests=_t("血常规", "CRP", "DR", "CT", "心电图"), treatments=_t("雾化", "吸氧"),
              extra_codes=(("J44.900", "慢性阻塞性肺病"),)),
    Condition("rhinitis", "J30.400", "变应性鼻炎", "A11", age_min=2, outpatient=(0, 1.5, 4, 3, 2, 1, 0.5),
              drugs=("孟鲁司特钠咀嚼片", "布地奈德福莫特罗吸入粉雾剂", "蓝芩口服液")),
    Condition("sinusitis", "J32.900", "慢性鼻窦炎", "A11", age_min=5, outpatient=(0, 0, 1, 1.5, 1, 0.5, 0.3),
              drugs=("阿莫西林克拉维酸钾片", "头孢呋辛酯片"), tests=_t("CT")),
    Condition("tb", "A15.000", "肺结核，经显微镜下痰检查证实，伴有或不伴有痰培养", "A16", age_min=12,
              outpatient=(0, 0, 0, 0.2, 0.2, 0.2, 0.2), inpatient=(0, 0, 0, 0.3, 0.3, 0.4, 0.4),
              chronic=(0, 0, 0, 0.0004, 0.0005, 0.0006, 0.0006), chronic_visits=1.5, los=1.6, cost=0.9,
              drugs=("异烟肼片", "利福平胶囊"), tests=_t("血常规", "ALT", "DR", "CT")),
    # --- ear, eye, mouth, skin -----------------------------------------------------------------
    Condition("otitis", "H66.900", "中耳炎", "A11", outpatient=(1, 4, 3, 0.5, 0.3, 0.2, 0.2),
              drugs=("阿莫西林胶囊", "头孢呋辛酯片", "阿莫西林克拉维酸钾片", "布洛芬混悬液"), tests=_t("血常规")),
    Condition("conjunctivitis", "H10.900", "结膜炎", "A10", outpatient=(1, 2, 2, 1.5, 1, 1, 1),
              drugs=("左氧氟沙星滴眼液",)),
    Condition("myopia", "H52.100", "近视", "A10", age_min=5, age_max=40, outpatient=(0, 0, 3, 1, 0, 0, 0),
              tests=_t("验光")),
    Condition("cataract", "H25.900", "老年性白内障", "A10", age_min=45, outpatient=(0, 0, 0, 0, 0.5, 2, 3),
              inpatient=(0, 0, 0, 0, 1, 5, 7), los=0.35, cost=0.9, procedures=(P_CATARACT,), surgical_share=0.95,
              surgical_only=True, drugs=("左氧氟沙星滴眼液",), tests=_t("血常规", "心电图", "B超")),
    Condition("amd", "H35.300", "黄斑和后极变性", "A10", age_min=50, outpatient=(0, 0, 0, 0, 0.05, 0.3, 0.5),
              drugs=("雷珠单抗注射液",), tests=_t("彩超")),
    Condition("caries", "K02.100", "牙本质龋", "A12", age_min=3, outpatient=(0, 2, 4, 1.5, 1, 1, 0.5),
              tests=_t("补牙")),
    Condition("gingivitis", "K05.100", "慢性龈炎", "A12", age_min=12, outpatient=(0, 0, 0.5, 1.5, 1.2, 1, 0.5),
              drugs=("甲硝唑片",), tests=_t("洗牙")),
    Condition("dermatitis", "L30.900", "皮炎", "A13", outpatient=(2, 2, 2, 2, 1.5, 1.2, 1), drugs=("阿昔洛韦乳膏",)),
    Condition("urticaria", "L50.100", "特发性荨麻疹", "A13", outpatient=(0.3, 1, 1, 1.5, 1, 0.6, 0.4),
              emergency=0.2, drugs=("地塞米松磷酸钠注射液",), treatments=_t("肌注")),
    Condition("acne", "L70.000", "寻常痤疮", "A13", age_min=12, age_max=40, outpatient=(0, 0, 0.5, 1.5, 0, 0, 0),
              tests=_t("血常规")),
    Condition("zoster", "B02.900", "带状疱疹不伴有并发症", "A13", age_min=10, outpatient=(0, 0, 0.2, 0.8, 1.2, 1.5, 1.5),
              inpatient=(0, 0, 0, 0.1, 0.3, 0.6, 0.8), los=0.9, cost=0.6,
              drugs=("阿昔洛韦片", "阿昔洛韦乳膏", "塞来昔布胶囊"), tests=_t("血常规")),
    Condition("hfmd", "B08.401", "手足口病", "A07", age_max=6, outpatient=(1, 5, 0.5, 0, 0, 0, 0),
              inpatient=(0.5, 3, 0.3, 0, 0, 0, 0), season="summer", los=0.6, cost=0.5,
              drugs=("小儿豉翘清热颗粒", "布洛芬混悬液", "蓝芩口服液"), tests=_t("血常规", "CRP")),
    # --- circulatory ---------------------------------------------------------------------------
    Condition("hypertension", "I10.x00x002", "高血压", "A03.04", variants=("I10.x00x002", "I10.x03", "I10.x04", "I10.x05", "I10.x09"),
              age_min=18, outpatient=(0, 0, 0, 1, 6, 10, 11), emergency=0.02, inpatient=(0, 0, 0, 0.2, 1, 1.5, 2),
              chronic=(0, 0, 0, 0.03, 0.16, 0.30, 0.36), los=0.9, cost=0.6,
              drugs=_ANTIHYPERTENSIVE, tests=_t("心电图", "肌酐", "胆固醇", "尿常规", "彩超")),
    Condition("chd", "I25.103", "冠状动脉粥样硬化性心脏病", "A03.04", age_min=30, outpatient=(0, 0, 0, 0.1, 2, 5, 7),
              inpatient=(0, 0, 0, 0.2, 3, 7, 9), chronic=(0, 0, 0, 0.001, 0.02, 0.06, 0.10), los=0.9, cost=1.1,
              procedures=(P_ANGIO, P_PCI), surgical_share=0.25,
              drugs=_CORONARY, tests=_t("心电图", "心超", "胆固醇", "动态心电", "BNP")),
    Condition("angina", "I20.000", "不稳定型心绞痛", "A03.04", age_min=30, outpatient=(0, 0, 0, 0, 0.3, 0.6, 0.6), emergency=0.4,
              inpatient=(0, 0, 0, 0.1, 2, 4, 4), los=0.9, cost=1.6, acute=0.5, procedures=(P_PCI, P_ANGIO),
              surgical_share=0.5, drugs=(*_CORONARY, "替格瑞洛片", "依诺肝素钠注射液"),
              tests=_t("心电图", "心超", "胆固醇", "D二聚体", "BNP")),
    Condition("ami", "I21.900", "急性心肌梗死", "A03.04", age_min=30, inpatient=(0, 0, 0, 0.1, 1, 1.5, 1.8),
              los=1.1, cost=3.2, acute=0.85, procedures=(P_PCI,), surgical_share=0.6,
              drugs=("替格瑞洛片", "阿司匹林肠溶片", "硫酸氢氯吡格雷片", "阿托伐他汀钙片", "依诺肝素钠注射液", "酒石酸美托洛尔片",
                     "硝酸甘油片", "依洛尤单抗注射液"),
              tests=_t("心电图", "心超", "BNP", "D二聚体", "胆固醇"), treatments=_t("吸氧")),
    Condition("heart_failure", "I50.900", "心力衰竭", "A03.04", age_min=18, outpatient=(0, 0, 0, 0, 0.2, 1, 2),
              inpatient=(0, 0, 0, 0.05, 0.5, 3, 8), chronic=(0, 0, 0, 0, 0.002, 0.01, 0.03), los=1.1, cost=1.1, acute=0.3,
              drugs=("呋塞米片", "螺内酯片", "沙库巴曲缬沙坦钠片", "达格列净片", "地高辛片", "富马酸比索洛尔片"),
              tests=_t("BNP", "心超", "心电图", "肌酐", "DR"), treatments=_t("吸氧")),
    Condition("af", "I48.000", "阵发性心房颤动", "A03.04", variants=("I48.0", "I48.1", "I48.2"), age_min=30,
              outpatient=(0, 0, 0, 0, 0.3, 1, 1.5), inpatient=(0, 0, 0, 0, 0.5, 1.5, 2.5),
              chronic=(0, 0, 0, 0, 0.002, 0.008, 0.015), los=0.8, cost=1.0,
              drugs=("利伐沙班片", "华法林钠片", "盐酸胺碘酮片", "酒石酸美托洛尔片", "地高辛片"),
              tests=_t("心电图", "动态心电", "心超", "D二聚体")),
    Condition("varicose", "I83.900x004", "下肢静脉曲张", "A04.01", age_min=30, outpatient=(0, 0, 0, 0.3, 0.6, 0.6, 0.4),
              drugs=("医用压力袜",), tests=_t("彩超")),
    # --- cerebrovascular and nervous -----------------------------------------------------------
    Condition("stroke", "I63.900", "脑梗死", "A03.03", variants=("I63.3", "I63.4", "I63.5", "I63.9"), age_min=30,
              outpatient=(0, 0, 0, 0, 0.5, 1.5, 2), inpatient=(0, 0, 0, 0.1, 3, 9, 12), los=1.3, cost=1.2, acute=0.45,
              drugs=_STROKE, tests=_t("CT", "MRI", "彩超", "胆固醇", "血糖", "心电图"), treatments=_t("偏瘫训练", "针灸")),
    Condition("ich", "I61.900x002", "脑出血", "A04.02", age_min=30, inpatient=(0, 0, 0, 0.05, 0.8, 1.2, 1.5),
              los=1.6, cost=2.0, acute=0.8, drugs=("盐酸氨溴索注射液", "注射用奥美拉唑钠", "苯磺酸氨氯地平片"),
              tests=_t("CT", "MRI", "血常规", "D二聚体"), treatments=_t("吸氧", "偏瘫训练")),
    Condition("tia", "G45.900", "短暂性大脑缺血性发作", "A03.03", age_min=40, inpatient=(0, 0, 0, 0, 0.5, 1, 1.2),
              los=0.8, cost=0.8, acute=0.3, drugs=("阿司匹林肠溶片", "阿托伐他汀钙片", "银杏叶片"),
              tests=_t("CT", "MRI", "彩超", "胆固醇")),
    Condition("stroke_sequelae", "I69.300", "脑梗死后遗症", "A21", age_min=30, outpatient=(0, 0, 0, 0, 0.3, 1, 1.5),
              inpatient=(0, 0, 0, 0, 0.3, 1, 1.5), chronic=(0, 0, 0, 0.0005, 0.006, 0.025, 0.045), los=1.8, cost=0.9,
              drugs=("阿司匹林肠溶片", "阿托伐他汀钙片", "脑心通胶囊", "银杏叶片", "血塞通软胶囊", "注射用血栓通(冻干)"),
              tests=_t("偏瘫训练", "运动疗法", "针灸", "理疗"), extra_codes=(("I69.400", "脑卒中后遗症"),)),
    Condition("vertigo", "R42.x00x001", "眩晕", "A03.03", age_min=10, outpatient=(0, 0, 0.2, 1, 1.5, 2, 2), emergency=0.2,
              inpatient=(0, 0, 0, 0.2, 0.6, 1, 1), los=0.8, cost=0.6, drugs=("银杏叶片", "血塞通软胶囊", "养血清脑颗粒"),
              tests=_t("CT", "彩超", "心电图")),
    Condition("headache", "G43.900", "偏头痛", "A03.03", age_min=8, outpatient=(0, 0, 1, 2, 1.5, 0.8, 0.4),
              drugs=("布洛芬缓释胶囊", "对乙酰氨基酚片", "养血清脑颗粒"), tests=_t("CT")),
    Condition("insomnia", "G47.000", "初发性或维持性睡眠障碍［失眠症］", "A03.03", age_min=15,
              outpatient=(0, 0, 0, 1, 1.5, 1.5, 1.5), drugs=("酒石酸唑吡坦片", "地西泮片", "六味地黄丸(浓缩丸)")),
    Condition("epilepsy", "G40.900", "癫痫", "A03.03", outpatient=(0.2, 0.5, 0.5, 0.3, 0.2, 0.2, 0.2),
              inpatient=(0.3, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2), chronic=(0, 0.002, 0.003, 0.003, 0.002, 0.002, 0.002),
              los=0.8, cost=0.8, drugs=("左乙拉西坦片", "地西泮片"), tests=_t("脑电图", "MRI")),
    Condition("dementia", "G30.900", "阿尔茨海默病", "A03.03", age_min=55, outpatient=(0, 0, 0, 0, 0, 0.2, 0.8),
              chronic=(0, 0, 0, 0, 0, 0.004, 0.025), drugs=("盐酸多奈哌齐片", "盐酸美金刚片"), tests=_t("MRI")),
    Condition("bell_palsy", "G51.000", "贝尔面瘫", "A03.03", age_min=5, outpatient=(0, 0, 0.2, 0.5, 0.5, 0.4, 0.3),
              drugs=("注射用甲泼尼龙琥珀酸钠", "阿昔洛韦片"), tests=_t("针灸", "理疗")),
    # --- mental ---------------------------------------------------------------------------------
    Condition("depression", "F32.900", "抑郁发作", "A15", age_min=12, outpatient=(0, 0, 0.1, 1, 0.8, 0.5, 0.5),
              chronic=(0, 0, 0.0003, 0.003, 0.003, 0.002, 0.002), drugs=("盐酸舍曲林片", "酒石酸唑吡坦片")),
    Condition("schizophrenia", "F20.900", "精神分裂症", "A15", age_min=14, outpatient=(0, 0, 0, 0.3, 0.3, 0.2, 0.1),
              inpatient=(0, 0, 0, 0.8, 0.5, 0.2, 0.1), chronic=(0, 0, 0, 0.004, 0.004, 0.003, 0.002), chronic_visits=1.5,
              los=4.0, cost=1.3, drugs=("奥氮平片", "地西泮片"), tests=_t("血常规", "ALT", "心电图")),
    Condition("anxiety", "F41.100", "广泛性焦虑障碍", "A15", age_min=15, outpatient=(0, 0, 0, 0.8, 0.6, 0.4, 0.3),
              drugs=("盐酸舍曲林片", "地西泮片")),
    # --- digestive ------------------------------------------------------------------------------
    Condition("gastritis", "K29.500", "慢性胃炎", "A03.02", variants=("K29.5",), age_min=10,
              outpatient=(0, 0, 0.5, 4, 5, 4, 3), inpatient=(0, 0, 0, 0.3, 0.5, 0.6, 0.6), los=0.7, cost=0.6,
              drugs=(*_GI, "小柴胡颗粒"), tests=_t("胃镜", "血常规", "B超")),
    Condition("acute_gastritis", "K29.100x001", "急性胃炎", "A03.02", age_min=5, outpatient=(0, 0, 1, 2, 1.5, 1, 0.8),
              emergency=0.3, drugs=("奥美拉唑肠溶胶囊", "多潘立酮片", "法莫替丁片", "藿香正气水"), tests=_t("血常规"),
              treatments=_t("输液")),
    Condition("gerd", "K21.001", "反流性食管炎", "A03.02", age_min=18, outpatient=(0, 0, 0, 1, 1.5, 1.2, 1),
              drugs=("雷贝拉唑钠肠溶片", "奥美拉唑肠溶胶囊", "多潘立酮片"), tests=_t("胃镜")),
    Condition("peptic_ulcer", "K27.300", "急性消化性溃疡不伴有出血和穿孔", "A03.02", age_min=15,
              outpatient=(0, 0, 0, 0.6, 0.8, 0.7, 0.6), inpatient=(0, 0, 0, 0.4, 0.6, 0.8, 1), los=0.9, cost=0.9,
              drugs=("奥美拉唑肠溶胶囊", "注射用奥美拉唑钠", "阿莫西林胶囊", "甲硝唑片"), tests=_t("胃镜", "血常规")),
    Condition("gi_bleeding", "K92.200x005", "胃肠道出血", "A03.02", age_min=18, inpatient=(0, 0, 0, 0.2, 0.5, 0.9, 1.3),
              los=1.0, cost=1.3, acute=0.6, drugs=("注射用奥美拉唑钠", "人血白蛋白"), tests=_t("胃镜", "血常规", "血型")),
    Condition("gastroenteritis", "A09.001", "感染性胃肠炎", "A03.02", variants=("A09.0",),
              outpatient=(3, 8, 4, 2, 1.5, 1.5, 1.5), emergency=0.15, inpatient=(4, 6, 2, 0.5, 0.4, 0.6, 1),
              season="summer", los=0.6, cost=0.5,
              drugs=("蒙脱石散", "双歧杆菌三联活菌胶囊", "藿香正气水", "左氧氟沙星片", "0.9%氯化钠注射液"),
              tests=_t("血常规", "CRP"), treatments=_t("输液", "小儿输液")),
    Condition("rotavirus", "A08.000", "轮状病毒性肠炎", "A07", age_max=5, outpatient=(6, 4, 0, 0, 0, 0, 0),
              inpatient=(5, 3, 0, 0, 0, 0, 0), season="winter", los=0.6, cost=0.5,
              drugs=("蒙脱石散", "双歧杆菌三联活菌胶囊"), tests=_t("血常规"), treatments=_t("小儿输液")),
    Condition("constipation", "K59.000", "便秘", "A03.02", outpatient=(0.5, 1, 0.5, 0.5, 0.5, 1, 1.5),
              drugs=("乳果糖口服溶液", "双歧杆菌三联活菌胶囊")),
    Condition("appendicitis", "K35.800x001", "急性阑尾炎", "A04.01", variants=("K35.8", "K35.3"), age_min=3,
              inpatient=(0, 0.2, 2, 3, 1.5, 0.8, 0.4), los=0.75, cost=1.0, acute=0.6,
              procedures=(P_APPENDIX_LAP, P_APPENDIX), surgical_share=0.85, surgical_only=True,
              drugs=("注射用头孢曲松钠", "甲硝唑片", "注射用头孢唑林钠", "注射用奥美拉唑钠"),
              tests=_t("血常规", "CRP", "B超", "CT", "血型", "HIV")),
    Condition("gallstones", "K80.101", "胆囊结石伴慢性胆囊炎", "A04.01", variants=("K80.1", "K80.2"), age_min=18,
              outpatient=(0, 0, 0, 0.3, 0.5, 0.5, 0.4), inpatient=(0, 0, 0, 1, 2, 2, 1.5), los=0.9, cost=1.2,
              procedures=(P_CHOLE,), surgical_share=0.65, drugs=("注射用头孢哌酮钠舒巴坦钠", "注射用奥美拉唑钠"),
              tests=_t("B超", "CT", "ALT", "胆红素", "血常规", "血型"), extra_codes=(("K81.000", "急性胆囊炎"),)),
    Condition("obstruction", "K56.700", "肠梗阻", "A04.01", inpatient=(0.2, 0.3, 0.2, 0.5, 0.8, 1.2, 1.5),
              los=1.0, cost=1.1, acute=0.6, drugs=("注射用奥美拉唑钠", "复方氨基酸注射液(18AA)", "中/长链脂肪乳注射液(C8-24)"),
              tests=_t("DR", "CT", "血常规")),
    Condition("pancreatitis", "K85.900", "急性胰腺炎", "A03.02", age_min=15, inpatient=(0, 0, 0, 0.8, 1, 0.8, 0.6),
              los=1.2, cost=1.6, acute=0.7, drugs=("注射用奥美拉唑钠", "复方氨基酸注射液(18AA)", "注射用美罗培南"),
              tests=_t("CT", "B超", "血常规", "CRP")),
    Condition("cirrhosis", "K74.600", "肝硬变", "A03.02", age_min=25, inpatient=(0, 0, 0, 0.2, 0.8, 0.8, 0.6),
              los=1.1, cost=1.3, drugs=("人血白蛋白", "呋塞米片", "螺内酯片", "乳果糖口服溶液"),
              tests=_t("ALT", "胆红素", "B超", "CT", "血常规")),
    Condition("fatty_liver", "K76.000", "脂肪肝", "A03.02", age_min=18, outpatient=(0, 0, 0, 0.6, 0.8, 0.5, 0.3),
              tests=_t("B超", "ALT", "胆固醇")),
    Condition("hepatitis_b", "B18.100", "慢性乙型病毒性肝炎，不伴有δ因子", "A16", variants=("B18.1",), age_min=10,
              outpatient=(0, 0, 0, 1, 1, 0.5, 0.3), inpatient=(0, 0, 0, 0.3, 0.3, 0.2, 0.1),
              chronic=(0, 0, 0.0003, 0.008, 0.01, 0.006, 0.004), los=1.0, cost=0.8,
              drugs=("恩替卡韦片", "富马酸替诺福韦二吡呋酯片", "富马酸丙酚替诺福韦片"), tests=_t("HBsAg", "ALT", "B超")),
    Condition("hepatitis_c", "B18.200", "慢性丙型病毒性肝炎", "A16", age_min=18, outpatient=(0, 0, 0, 0.05, 0.08, 0.06, 0.03),
              chronic=(0, 0, 0, 0.0003, 0.0005, 0.0004, 0.0002), chronic_visits=0.5,
              drugs=("索磷布韦维帕他韦片",), tests=_t("ALT", "B超")),
    Condition("anal", "K64.200", "Ⅲ度痔", "A04.01", age_min=18, outpatient=(0, 0, 0, 0.6, 0.6, 0.4, 0.3),
              drugs=("云南白药胶囊", "乳果糖口服溶液")),
    # --- endocrine and metabolic ----------------------------------------------------------------
    Condition("diabetes", "E11.900", "2型糖尿病", "A03.07", variants=("E11.9",), age_min=18,
              outpatient=(0, 0, 0, 0.5, 4, 6, 5), inpatient=(0, 0, 0, 0.5, 2, 3, 3),
              chronic=(0, 0, 0, 0.012, 0.07, 0.13, 0.14), los=0.9, cost=0.7,
              drugs=_DIABETES, tests=_t("血糖", "糖化", "肌酐", "尿常规", "胆固醇")),
    Condition("hyperlipidaemia", "E78.500", "高脂血症", "A03.04", age_min=25, outpatient=(0, 0, 0, 0.5, 2, 2, 1.5),
              drugs=("阿托伐他汀钙片", "瑞舒伐他汀钙片", "依折麦布片", "依洛尤单抗注射液"), tests=_t("胆固醇", "ALT")),
    Condition("hypothyroidism", "E03.900", "甲状腺功能减退症", "A03.07", age_min=10, outpatient=(0, 0, 0.1, 0.5, 0.8, 0.6, 0.4),
              chronic=(0, 0, 0, 0.001, 0.002, 0.002, 0.001), drugs=("左甲状腺素钠片",), tests=_t("彩超")),
    Condition("thyroid_nodule", "E04.100", "非毒性单个甲状腺结节", "A03.07", age_min=18,
              outpatient=(0, 0, 0, 0.6, 0.8, 0.5, 0.3), tests=_t("彩超")),
    Condition("gout", "M10.900", "痛风", "A03.07", age_min=18, outpatient=(0, 0, 0, 1, 1.2, 1, 0.8),
              drugs=("非布司他片", "别嘌醇片", "塞来昔布胶囊", "布洛芬缓释胶囊"), tests=_t("尿酸", "肌酐")),
    Condition("anaemia", "D50.900", "缺铁性贫血", "A03.05", outpatient=(0.5, 1, 0.5, 1, 0.5, 0.3, 0.5),
              drugs=("蔗糖铁注射液", "维生素C片"), tests=_t("血常规")),
    Condition("gh_deficiency", "E23.000", "垂体功能减退症", "A07", age_min=3, age_max=16,
              chronic=(0, 0.0002, 0.0005, 0, 0, 0, 0), drugs=("注射用重组人生长激素",), tests=_t("MRI")),
    # --- kidney and urinary ---------------------------------------------------------------------
    Condition("uti", "N39.000", "泌尿道感染", "A03.06", outpatient=(0.3, 1, 0.5, 2, 1.5, 2, 2.5),
              inpatient=(0.5, 0.5, 0.2, 0.3, 0.4, 1, 2), los=0.8, cost=0.6,
              drugs=("左氧氟沙星片", "头孢呋辛酯片", "注射用头孢曲松钠"), tests=_t("尿常规", "血常规")),
    Condition("cystitis", "N30.000", "急性膀胱炎", "A04.04", sex="2", age_min=15, outpatient=(0, 0, 0, 2, 1.2, 0.8, 0.6),
              drugs=("左氧氟沙星片", "头孢呋辛酯片"), tests=_t("尿常规")),
    Condition("kidney_stone", "N20.000", "肾结石", "A04.04", age_min=18, outpatient=(0, 0, 0, 1.5, 1.5, 1, 0.5),
              emergency=0.35, inpatient=(0, 0, 0, 1, 1, 0.6, 0.3), los=0.6, cost=0.9, procedures=(P_LITHO,),
              surgical_share=0.5, drugs=("布洛芬缓释胶囊",), tests=_t("B超", "尿常规", "CT"),
              extra_codes=(("N20.100", "输尿管结石"),)),
    Condition("ckd", "N18.900", "慢性肾脏病，未特指", "A03.06", variants=("N18.9",), age_min=18,
              outpatient=(0, 0, 0, 0.3, 0.6, 1, 1.2), inpatient=(0, 0, 0, 0.3, 0.8, 1.5, 2),
              chronic=(0, 0, 0, 0.002, 0.006, 0.012, 0.02), los=1.0, cost=1.0,
              drugs=("重组人促红素注射液", "蔗糖铁注射液", "达格列净片", "呋塞米片", "苯磺酸氨氯地平片"),
              tests=_t("肌酐", "尿酸", "尿常规", "血常规", "B超")),
    Condition("esrd", "N18.501", "肾终末期疾病", "A03.06", age_min=18, inpatient=(0, 0, 0, 0.1, 0.2, 0.3, 0.3),
              chronic=(0, 0, 0, 0.0004, 0.001, 0.0015, 0.0015), chronic_visits=40.0, los=1.0, cost=1.3,
              procedures=(P_DIALYSIS,), surgical_share=0.8, always=("血液透析", "血液透析器", "血液透析管路"),
              drugs=("重组人促红素注射液", "蔗糖铁注射液"), tests=_t("肌酐", "血常规")),
    Condition("bph", "N40.x00", "前列腺增生", "A04.04", sex="1", age_min=45, outpatient=(0, 0, 0, 0, 1.5, 3, 4),
              inpatient=(0, 0, 0, 0, 0.3, 1.2, 1.8), los=0.9, cost=1.0, procedures=(P_TURP,), surgical_share=0.7,
              drugs=("盐酸坦索罗辛缓释胶囊", "非那雄胺片", "前列舒通胶囊", "癃闭舒胶囊"), tests=_t("PSA", "B超", "尿常规")),
    Condition("phimosis", "N47.x00x001", "包茎", "A04.04", sex="1", age_min=3, age_max=40,
              outpatient=(0, 0, 0.3, 0.2, 0, 0, 0), inpatient=(0, 0, 0.4, 0.2, 0, 0, 0), los=0.2, cost=0.3,
              procedures=(P_CIRCUMCISION,), surgical_share=1.0, surgical_only=True, tests=_t("血常规")),
    Condition("kidney_transplant", "Z94.000", "肾移植状态", "A03.06", age_min=18,
              chronic=(0, 0, 0, 0.0001, 0.0002, 0.0002, 0.0001), chronic_visits=1.5,
              drugs=("他克莫司胶囊", "吗替麦考酚酯胶囊", "百令胶囊"), tests=_t("肌酐", "血常规")),
    # --- musculoskeletal and injuries -----------------------------------------------------------
    Condition("knee_oa", "M17.900", "膝关节病", "A04.03", age_min=35, outpatient=(0, 0, 0, 0.5, 2, 3, 3),
              inpatient=(0, 0, 0, 0, 0.5, 1.5, 1.5), los=1.1, cost=1.6, procedures=(P_TKA,), surgical_share=0.35,
              drugs=_PAIN, tests=_t("DR", "MRI", "理疗", "针灸")),
    Condition("hip_oa", "M16.900", "髋关节病", "A04.03", age_min=40, outpatient=(0, 0, 0, 0, 0.3, 0.6, 0.6),
              inpatient=(0, 0, 0, 0, 0.2, 0.5, 0.5), los=1.2, cost=2.5, procedures=(P_THA,), surgical_share=0.8,
              surgical_only=True, drugs=(*_PAIN, "依诺肝素钠注射液"), tests=_t("DR", "CT", "血型", "D二聚体")),
    Condition("disc", "M51.202", "腰椎间盘突出", "A04.03", age_min=18, outpatient=(0, 0, 0, 2, 2.5, 2, 1.5),
              inpatient=(0, 0, 0, 1, 1.5, 1.2, 0.8), los=1.0, cost=0.9,
              drugs=_PAIN, tests=_t("MRI", "CT", "针灸", "推拿", "理疗")),
    Condition("cervical", "M47.201", "神经根型颈椎病", "A04.03", age_min=20, outpatient=(0, 0, 0, 1.5, 2, 1.5, 1),
              inpatient=(0, 0, 0, 0.2, 0.4, 0.3, 0.2), los=1.0, cost=0.7, drugs=_PAIN, tests=_t("DR", "MRI", "推拿", "针灸")),
    Condition("back_pain", "M54.500", "下背痛", "A04.03", age_min=15, outpatient=(0, 0, 0, 1.5, 1.5, 1.2, 1),
              drugs=_PAIN, tests=_t("DR", "理疗", "艾灸")),
    Condition("frozen_shoulder", "M75.001", "肩周炎", "A04.03", age_min=35, outpatient=(0, 0, 0, 0.3, 1, 0.8, 0.5),
              drugs=_PAIN, tests=_t("DR", "针灸", "推拿")),
    Condition("osteoporosis", "M81.000", "绝经后骨质疏松", "A04.03", sex="2", age_min=45, outpatient=(0, 0, 0, 0, 0.3, 1, 1.5),
              chronic=(0, 0, 0, 0, 0.004, 0.015, 0.025), drugs=("阿仑膦酸钠片",), tests=_t("DR")),
    Condition("ra", "M06.900", "类风湿性关节炎", "A03.08", age_min=16, outpatient=(0, 0, 0, 0.2, 0.3, 0.3, 0.2),
              chronic=(0, 0, 0, 0.002, 0.004, 0.004, 0.003), drugs=("甲氨蝶呤片", "阿达木单抗注射液", "塞来昔布胶囊"),
              tests=_t("血常规", "CRP", "DR")),
    Condition("hip_fracture", "S72.000", "股骨颈骨折", "A04.03", variants=("S72.0",), age_min=20,
              inpatient=(0, 0, 0, 0.1, 0.3, 1.5, 4), los=1.5, cost=2.6, injury=True, acute=0.5,
              procedures=(P_THA,), surgical_share=0.6,
              drugs=("依诺肝素钠注射液", "注射用头孢唑林钠", "塞来昔布胶囊", "云南白药胶囊"),
              tests=_t("DR", "CT", "血型", "D二聚体", "血常规")),
    Condition("fracture", "S52.500x001", "桡骨远端骨折", "A04.03", variants=("S52.5", "S82.1", "S42.0", "S32.0", "S22.0", "S92.0"),
              outpatient=(0, 0.3, 1, 1, 0.8, 0.8, 0.8), emergency=0.4, inpatient=(0, 0.5, 1.5, 1.5, 1.5, 1.5, 1.5),
              los=1.2, cost=1.0, injury=True, acute=0.4,
              drugs=("云南白药胶囊", "塞来昔布胶囊", "注射用头孢唑林钠", "活血止痛胶囊"), tests=_t("DR", "CT", "血常规"),
              treatments=("医用高分子夹板", "石膏绷带")),
    Condition("concussion", "S06.000", "脑震荡", "A04.02", outpatient=(0, 0.3, 0.5, 0.6, 0.5, 0.4, 0.4), emergency=0.6,
              inpatient=(0, 0.5, 0.5, 0.8, 0.6, 0.6, 0.8), los=0.6, cost=0.5, injury=True, acute=0.6,
              drugs=("银杏叶片",), tests=_t("CT")),
    Condition("wound", "S01.001", "头皮裂伤", "A20", variants=("S01.0", "S61.0"), outpatient=(0, 1, 1.5, 2, 1.5, 1, 1),
              emergency=0.6, injury=True, drugs=("破伤风人免疫球蛋白", "头孢呋辛酯片"), tests=_t("清创", "换药"),
              extra_codes=(("S61.000x001", "手指开放性损伤"),)),
    Condition("sprain", "S93.400", "踝扭伤和劳损", "A04.03", age_min=5, outpatient=(0, 0, 1.5, 2, 1, 0.5, 0.3),
              emergency=0.3, injury=True, drugs=("云南白药胶囊", "布洛芬缓释胶囊", "活血止痛胶囊"), tests=_t("DR")),
    Condition("contusion", "T14.001", "皮肤挫伤", "A20", outpatient=(0, 1, 1.5, 1.5, 1, 0.8, 0.8), emergency=0.4,
              injury=True, drugs=("云南白药胶囊",), tests=_t("换药")),
    Condition("burn", "T30.200", "二度烧伤", "A04.08", outpatient=(0.2, 1, 0.5, 0.5, 0.3, 0.2, 0.2), emergency=0.5,
              inpatient=(0.2, 0.8, 0.3, 0.3, 0.2, 0.2, 0.2), los=1.5, cost=1.2, injury=True, acute=0.5,
              drugs=("注射用头孢唑林钠",), tests=_t("换药中", "血常规"), treatments=("水胶体敷料", "藻酸盐敷料")),
    Condition("rabies_exposure", "Z20.300", "接触和暴露于狂犬病", "A20", outpatient=(0, 0.5, 1, 1, 0.8, 0.5, 0.3),
              emergency=0.3, drugs=("人用狂犬病疫苗(Vero细胞)",), tests=_t("清创")),
    # --- neoplasms ------------------------------------------------------------------------------
    Condition("lung_cancer", "C34.900x001", "肺恶性肿瘤", "A19", variants=("C34.1", "C34.3", "C34.9"), age_min=30,
              outpatient=(0, 0, 0, 0.05, 0.3, 0.8, 0.8), inpatient=(0, 0, 0, 0.1, 1.5, 3, 2.5),
              chronic=(0, 0, 0, 0.0001, 0.0008, 0.0025, 0.003), chronic_visits=6.0, los=1.1, cost=1.8, cancer=True,
              procedures=(P_CHEMO, P_RADIO), surgical_share=0.55, drugs=_LUNG_CA,
              tests=_t("CT增强", "PET", "病理", "血常规", "ALT", "肌酐")),
    Condition("gastric_cancer", "C16.900", "胃恶性肿瘤", "A19", variants=("C16.0", "C16.3", "C16.9"), age_min=30,
              outpatient=(0, 0, 0, 0.02, 0.2, 0.4, 0.4), inpatient=(0, 0, 0, 0.1, 0.8, 1.5, 1.2),
              chronic=(0, 0, 0, 0.00005, 0.0005, 0.0012, 0.0012), chronic_visits=6.0, los=1.3, cost=2.0, cancer=True,
              procedures=(P_CHEMO,), surgical_share=0.55,
              drugs=("注射用奥沙利铂", "注射用曲妥珠单抗", "信迪利单抗注射液", "甲磺酸伊马替尼片", *_CHEMO_SUPPORT),
              tests=_t("胃镜", "CT增强", "病理", "血常规", "ALT")),
    Condition("colorectal_cancer", "C18.900", "结肠恶性肿瘤", "A19", variants=("C18.7", "C18.9", "C20"), age_min=30,
              outpatient=(0, 0, 0, 0.02, 0.2, 0.4, 0.5), inpatient=(0, 0, 0, 0.1, 0.8, 1.6, 1.5),
              chronic=(0, 0, 0, 0.00005, 0.0006, 0.0014, 0.0016), chronic_visits=6.0, los=1.2, cost=2.0, cancer=True,
              procedures=(P_CHEMO,), surgical_share=0.55,
              drugs=("注射用奥沙利铂", "贝伐珠单抗注射液", *_CHEMO_SUPPORT), tests=_t("肠镜", "CT增强", "病理", "血常规"),
              extra_codes=(("C20.x00", "直肠恶性肿瘤"),)),
    Condition("liver_cancer", "C22.000", "肝细胞癌", "A19", age_min=30, outpatient=(0, 0, 0, 0.02, 0.2, 0.3, 0.2),
              inpatient=(0, 0, 0, 0.1, 0.8, 1, 0.6), chronic=(0, 0, 0, 0.0001, 0.0005, 0.0008, 0.0006), chronic_visits=6.0,
              los=1.0, cost=1.9, cancer=True, procedures=(P_CHEMO,), surgical_share=0.4,
              drugs=("贝伐珠单抗注射液", "信迪利单抗注射液", "人血白蛋白", *_CHEMO_SUPPORT), tests=_t("CT增强", "MRI增强", "ALT", "胆红素")),
    Condition("oesophagus_cancer", "C15.900", "食管恶性肿瘤", "A19", age_min=35, inpatient=(0, 0, 0, 0.02, 0.3, 0.8, 0.7),
              chronic=(0, 0, 0, 0, 0.0002, 0.0006, 0.0006), chronic_visits=4.0, los=1.3, cost=1.9, cancer=True,
              procedures=(P_CHEMO, P_RADIO), surgical_share=0.55,
              drugs=("顺铂注射液", "紫杉醇注射液", "信迪利单抗注射液", *_CHEMO_SUPPORT), tests=_t("胃镜", "CT增强", "病理")),
    Condition("breast_cancer", "C50.900", "乳房恶性肿瘤", "A19", sex="2", age_min=25, outpatient=(0, 0, 0, 0.2, 0.6, 0.5, 0.3),
              inpatient=(0, 0, 0, 0.6, 1.5, 1.2, 0.6), chronic=(0, 0, 0, 0.0008, 0.003, 0.003, 0.002), chronic_visits=6.0,
              los=0.9, cost=1.5, cancer=True, procedures=(P_CHEMO, P_RADIO), surgical_share=0.6,
              drugs=("注射用紫杉醇(白蛋白结合型)", "注射用曲妥珠单抗", "来曲唑片", "紫杉醇注射液", *_CHEMO_SUPPORT),
              tests=_t("彩超", "MRI增强", "病理", "血常规")),
    Condition("cervical_cancer", "C53.900", "宫颈恶性肿瘤", "A19", sex="2", age_min=25,
              inpatient=(0, 0, 0, 0.3, 0.6, 0.4, 0.2), chronic=(0, 0, 0, 0.0003, 0.0008, 0.0006, 0.0004), chronic_visits=4.0,
              los=1.2, cost=1.5, cancer=True, procedures=(P_CHEMO, P_RADIO), surgical_share=0.6,
              drugs=("顺铂注射液", "紫杉醇注射液", *_CHEMO_SUPPORT), tests=_t("MRI增强", "病理", "TCT", "HPV")),
    Condition("prostate_cancer", "C61.x00", "前列腺恶性肿瘤", "A19", sex="1", age_min=45, outpatient=(0, 0, 0, 0, 0.1, 0.4, 0.6),
              inpatient=(0, 0, 0, 0, 0.2, 0.6, 0.8), chronic=(0, 0, 0, 0, 0.0003, 0.002, 0.004), chronic_visits=4.0,
              los=0.9, cost=1.3, cancer=True, procedures=(P_RADIO,), surgical_share=0.3,
              drugs=("比卡鲁胺片", "醋酸阿比特龙片"), tests=_t("PSA", "MRI增强", "病理")),
    Condition("thyroid_cancer", "C73.x00", "甲状腺恶性肿瘤", "A19", age_min=15, outpatient=(0, 0, 0, 0.3, 0.3, 0.15, 0.05),
              chronic=(0, 0, 0, 0.0006, 0.001, 0.0006, 0.0003), chronic_visits=0.8, drugs=("左甲状腺素钠片",),
              tests=_t("彩超", "病理"), cancer=True),
    Condition("lymphoma", "C85.900", "非霍奇金淋巴瘤", "A03.05", age_min=10, inpatient=(0, 0, 0.1, 0.3, 0.4, 0.5, 0.4),
              chronic=(0, 0, 0.00002, 0.0001, 0.0002, 0.0003, 0.0003), chronic_visits=4.0, los=1.1, cost=2.0, cancer=True,
              procedures=(P_CHEMO,), surgical_share=0.7, drugs=("利妥昔单抗注射液", *_CHEMO_SUPPORT),
              tests=_t("PET", "病理", "血常规", "CT增强")),
    Condition("cml", "C92.100", "慢性髓系白血病（CML)，BCR/ABL阳性", "A03.05", age_min=10,
              chronic=(0, 0, 0.00001, 0.00005, 0.0001, 0.0001, 0.0001), chronic_visits=1.0,
              drugs=("甲磺酸伊马替尼片",), tests=_t("血常规"), cancer=True),
    # --- women, pregnancy and newborns ----------------------------------------------------------
    Condition("delivery", "O80.000", "头位顺产", "A05.02", variants=("O80.0", "O80.9"), sex="2", age_min=18, age_max=45,
              inpatient=(0, 0, 0, 22, 0.3, 0, 0), los=0.45, cost=0.55,
              always=("单胎顺产接生",), drugs=("缩宫素注射液", "0.9%氯化钠注射液"),
              tests=_t("血常规", "胎超", "血型", "HBsAg", "HIV", "B超")),
    Condition("caesarean", "O82.900", "经剖宫产术分娩", "A05.02", variants=("O82.0", "O82.9"), sex="2", age_min=18, age_max=45,
              inpatient=(0, 0, 0, 16, 0.3, 0, 0), los=0.65, cost=0.9, procedures=(P_CAESAREAN,), surgical_share=1.0,
              surgical_only=True, drugs=("缩宫素注射液", "注射用头孢唑林钠", "0.9%氯化钠注射液"),
              tests=_t("血常规", "胎超", "血型", "HBsAg", "HIV", "B超")),
    Condition("prenatal", "Z34.900x001", "妊娠监督", "A05.02", sex="2", age_min=18, age_max=45,
              outpatient=(0, 0, 0, 6, 0.1, 0, 0), tests=_t("胎超", "血常规", "尿常规", "B超")),
    Condition("threatened_abortion", "O20.000", "先兆流产", "A05.02", sex="2", age_min=16, age_max=45,
              outpatient=(0, 0, 0, 2, 0.05, 0, 0), inpatient=(0, 0, 0, 2, 0.05, 0, 0), los=0.6, cost=0.4,
              drugs=("黄体酮注射液", "地屈孕酮片"), tests=_t("hCG", "阴超", "B超")),
    Condition("abortion", "O04.905", "早期人工流产", "A05.02", sex="2", age_min=16, age_max=45,
              outpatient=(0, 0, 0, 0.8, 0.05, 0, 0), inpatient=(0, 0, 0, 1.2, 0.05, 0, 0), los=0.2, cost=0.3,
              procedures=(P_ABORTION,), surgical_share=1.0, surgical_only=True, drugs=("米非司酮片",),
              tests=_t("hCG", "阴超", "血常规")),
    Condition("fibroid", "D25.900", "子宫平滑肌瘤", "A05.01", sex="2", age_min=25, age_max=60,
              outpatient=(0, 0, 0, 0.8, 1, 0.1, 0), drugs=("桂枝茯苓胶囊",), tests=_t("阴超", "B超")),
    Condition("vaginitis", "N76.000", "急性阴道炎", "A05.01", sex="2", age_min=15, outpatient=(0, 0, 0, 4, 2, 1, 0.5),
              drugs=("甲硝唑片",), tests=_t("阴超", "HPV", "TCT")),
    Condition("pid", "N73.101", "慢性女性盆腔炎", "A05.01", sex="2", age_min=18, outpatient=(0, 0, 0, 1.5, 1, 0.3, 0.1),
              drugs=("左氧氟沙星片", "甲硝唑片", "桂枝茯苓胶囊"), tests=_t("阴超", "血常规")),
    Condition("menstrual", "N92.000", "月经过多和频繁伴有规则周期", "A05.01", sex="2", age_min=12, age_max=55,
              outpatient=(0, 0, 0.3, 3, 1.5, 0, 0), drugs=(*_WOMEN_TCM, "地屈孕酮片"), tests=_t("阴超", "血常规", "hCG")),
    Condition("cervical_screening", "N87.000", "轻度宫颈发育不良", "A05.01", sex="2", age_min=21, age_max=70,
              outpatient=(0, 0, 0, 0.6, 0.5, 0.2, 0), tests=_t("TCT", "HPV", "阴道镜")),
    Condition("neonatal_jaundice", "P59.801", "新生儿病理性黄疸", "A07", age_max=0, outpatient=(5, 0, 0, 0, 0, 0, 0),
              inpatient=(18, 0, 0, 0, 0, 0, 0), los=0.8, cost=0.6, tests=_t("胆红素", "血常规")),
    Condition("febrile_convulsion", "R56.000", "发热性惊厥", "A07", age_max=6, outpatient=(0.5, 1, 0.1, 0, 0, 0, 0),
              emergency=0.7, inpatient=(1, 3, 0.3, 0, 0, 0, 0), los=0.5, cost=0.5, acute=0.8,
              drugs=("地西泮片", "布洛芬混悬液"), tests=_t("血常规", "脑电图")),
    Condition("fever", "R50.900", "发热", "A07", outpatient=(3, 4, 2, 1, 0.5, 0.5, 0.5), emergency=0.3,
              inpatient=(1, 1, 0.5, 0.2, 0.2, 0.3, 0.5), season="winter", los=0.6, cost=0.5,
              drugs=("布洛芬混悬液", "对乙酰氨基酚混悬滴剂", "对乙酰氨基酚片", "小儿豉翘清热颗粒", "布洛芬缓释胶囊"),
              tests=_t("血常规", "CRP")),
    Condition("chest_pain", "R07.200", "心前区痛", "A20", age_min=18, outpatient=(0, 0, 0, 0.5, 0.8, 0.8, 0.8),
              emergency=0.6, drugs=("硝酸甘油片", "速效救心丸"), tests=_t("心电图", "D二聚体", "DR")),
    Condition("abdominal_pain", "R10.402", "腹痛", "A20", outpatient=(0.2, 1, 1.5, 1.5, 1, 1, 1), emergency=0.5,
              drugs=("多潘立酮片", "奥美拉唑肠溶胶囊"), tests=_t("血常规", "B超")),
)  # fmt: skip

CONDITIONS_BY_KEY: dict[str, Condition] = {c.key: c for c in CONDITIONS}


@dataclass(frozen=True, slots=True)
class Comorbidity:
    """A secondary diagnosis with its prevalence weight by age band (and sex, if limited)."""

    code: str
    name: str
    weights: W7
    sex: str | None = None


COMORBIDITIES: tuple[Comorbidity, ...] = (
    Comorbidity("E78.500", "高脂血症", (0, 0, 0, 0.6, 2.5, 3, 2.5)),
    Comorbidity("K76.000", "脂肪肝", (0, 0, 0.05, 0.8, 2, 1.5, 0.8)),
    Comorbidity("I67.200", "大脑动脉粥样硬化", (0, 0, 0, 0.05, 0.8, 2, 3)),
    Comorbidity("E87.600", "低钾血症", (0.2, 0.2, 0.2, 0.4, 0.6, 1, 1.5)),
    Comorbidity("D64.900", "贫血", (0.5, 0.5, 0.3, 0.6, 0.8, 1.2, 2)),
    Comorbidity("N28.101", "单纯性肾囊肿", (0, 0, 0, 0.2, 0.8, 1.2, 1.5)),
    Comorbidity("K80.200x003", "胆囊结石", (0, 0, 0, 0.4, 1, 1.2, 1.2)),
    Comorbidity("E04.100", "非毒性单个甲状腺结节", (0, 0, 0, 0.6, 0.9, 0.8, 0.6)),
    Comorbidity("M81.900", "骨质疏松", (0, 0, 0, 0, 0.4, 1.2, 2), sex="2"),
    Comorbidity("I49.100x001", "房性期前收缩[房性早搏]", (0, 0, 0, 0.2, 0.6, 1, 1.2)),
    Comorbidity("E87.102", "低钠血症", (0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5)),
    Comorbidity("K29.500", "慢性胃炎", (0, 0, 0.1, 0.8, 1.2, 1, 0.8)),
    Comorbidity("J98.414", "肺部感染", (0.5, 0.5, 0.2, 0.2, 0.5, 1.2, 2.5)),
    Comorbidity("N39.000", "泌尿道感染", (0.2, 0.2, 0.1, 0.2, 0.3, 0.6, 1.2)),
    Comorbidity("E66.900", "肥胖症", (0, 0, 0.2, 0.5, 0.6, 0.3, 0.1)),
    Comorbidity("N40.x00", "前列腺增生", (0, 0, 0, 0, 0.8, 2, 2.5), sex="1"),
    Comorbidity("I70.203", "下肢动脉粥样硬化", (0, 0, 0, 0, 0.3, 1, 1.6)),
    Comorbidity("E55.900", "维生素D缺乏病", (0.6, 0.4, 0.1, 0.1, 0.1, 0.2, 0.3)),
    Comorbidity("J30.400", "变应性鼻炎", (0, 0.3, 0.5, 0.4, 0.2, 0.1, 0.1)),
)  # fmt: skip
"""Secondary diagnoses besides the person's chronic conditions (relative weights by age band)."""


# ---------------------------------------------------------------------------------------------
# The CHS-DRG tables
# ---------------------------------------------------------------------------------------------

_CJK = r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]"
_SPACE_NEAR_CJK = re.compile(rf"(?<={_CJK})\s+|\s+(?={_CJK})")
_EXCLUSION = re.compile(r"\s+(表\s*\d+-\d+|无)\s*$")
_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9x]{1,3}(x[0-9]{3})?|\.[0-9x]{3}[0-9x]*)?$")
_PROC_CODE = re.compile(r"^[0-9]{2}\.[0-9x]{2}[0-9x]{0,2}(x[0-9]{3})?$")
_SPECIAL = ("新生儿", "婴儿", "小儿", "儿童", "幼儿", "胎儿", "妊娠", "产后", "产褥", "老年", "青春期", "先天",
            "放射性", "药物性", "术后", "移植", "HIV", "艾滋", "早产", "男性", "女性")  # fmt: skip


def _clean(name: str) -> str:
    """A table name with its wrap marks and layout spaces removed (``2 型糖尿病`` → ``2型糖尿病``)."""
    name = name.replace("~~", "")
    name = _SPACE_NEAR_CJK.sub("", name)
    return re.sub(r"\s{2,}", " ", name).strip()


@dataclass(frozen=True, slots=True, eq=False)
class IcdTables:
    """Names read from the CHS-DRG 1.1 tables: principal diagnoses, secondary diagnoses, procedures."""

    folder: Path
    principal: dict[str, str]
    secondary: dict[str, str]
    procedures: dict[str, str]

    def name(self, code: str) -> str | None:
        return self.principal.get(code) or self.secondary.get(code)


def drg_tables_folder() -> Path:
    """``$YIBAO_DRG_TABLES``, else ``../shared/data/chs-drg-1.1`` beside the project root."""
    env = os.environ.get(DRG_TABLES_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "chs-drg-1.1"


def _read_names(path: Path, into: dict[str, str], pattern: re.Pattern[str], *, exclusion: bool) -> None:
    """Add the (code, cleaned name) pairs of one table file to ``into``; the first name of a code stands."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            code, _, name = line.strip().partition(" ")
            if not name or code in into or not pattern.match(code):
                continue
            if exclusion:
                name = _EXCLUSION.sub("", name)
            if " " in name or "~" in name:
                name = _clean(name)
            if len(name) >= 2:
                into[code] = name


@cache
def _load_tables(folder: Path) -> IcdTables | None:
    mdc = sorted((folder / "MDC").glob("MDC*.dat")) if (folder / "MDC").is_dir() else []
    if not mdc:
        return None
    principal: dict[str, str] = {}
    for path in mdc:
        _read_names(path, principal, _CODE, exclusion=False)
    secondary: dict[str, str] = {}
    for fname in ("5_MCC.txt", "6_CC.txt"):
        if (folder / fname).exists():
            _read_names(folder / fname, secondary, _CODE, exclusion=True)
    procedures: dict[str, str] = {}
    if (folder / "4_ADRG_DETAIL.txt").exists():
        _read_names(folder / "4_ADRG_DETAIL.txt", procedures, _PROC_CODE, exclusion=False)
    return IcdTables(folder, principal, secondary, procedures)


def drg_tables(folder: Path | str | None = None) -> IcdTables | None:
    """The CHS-DRG tables of ``folder`` (default :func:`drg_tables_folder`), or None if absent."""
    return _load_tables(Path(folder) if folder is not None else drg_tables_folder())


def _variant_codes(tables: IcdTables, c: Condition) -> list[tuple[str, str]]:
    """More specific table codes for ``c``: those under its variant prefixes whose names are generic."""
    codes = _sorted_codes(tables)
    out: list[tuple[str, str]] = []
    seen = {c.code}
    for prefix in c.variants:
        for code in codes[bisect.bisect_left(codes, prefix) :]:
            if not code.startswith(prefix):
                break
            if code in seen:
                continue
            name = tables.principal[code]
            if any(word in name for word in _SPECIAL) and not any(word in c.name for word in _SPECIAL):
                continue
            seen.add(code)
            out.append((code, name))
    return out[:12]


@cache
def _sorted_codes(tables: IcdTables) -> list[str]:
    return sorted(tables.principal)


@cache
def code_book(folder: Path | None = None, *, use_tables: bool = True) -> pl.DataFrame:
    """Every diagnosis code a condition may carry, with its name and weight within the condition.

    Columns: cond (index into :data:`CONDITIONS`), diag_code, diag_name, weight. The built-in code has
    weight 0.5 (all of it without tables); the table's variants share the other half. Extra built-in
    codes (``extra_codes``) are always included with a share of the variants' weight.
    """
    tables = drg_tables(folder) if use_tables else None
    rows: list[tuple[int, str, str, float]] = []
    for i, c in enumerate(CONDITIONS):
        name = (tables.name(c.code) if tables else None) or c.name
        alternatives = list(c.extra_codes)
        if tables is not None:
            alternatives = [(code, tables.name(code) or nm) for code, nm in alternatives]
            alternatives += [v for v in _variant_codes(tables, c) if v[0] not in {a[0] for a in alternatives}]
        if not alternatives:
            rows.append((i, c.code, name, 1.0))
            continue
        rows.append((i, c.code, name, 0.5))
        share = 0.5 / len(alternatives)
        rows.extend((i, code, nm, share) for code, nm in alternatives)
    return pl.DataFrame(rows, schema={"cond": pl.Int32, "diag_code": pl.String, "diag_name": pl.String,
                                      "weight": pl.Float64}, orient="row")  # fmt: skip


def comorbidity_names(folder: Path | None = None, *, use_tables: bool = True) -> list[tuple[str, str]]:
    """(code, name) of every comorbidity, with the table's name when it has the code."""
    tables = drg_tables(folder) if use_tables else None
    return [(m.code, (tables.name(m.code) if tables else None) or m.name) for m in COMORBIDITIES]


def procedure_name(p: Procedure | tuple[str, str], folder: Path | None = None, *, use_tables: bool = True) -> str:
    """The official name of a procedure code when the tables have it, else the built-in name."""
    code, name = (p.code, p.name) if isinstance(p, Procedure) else p
    tables = drg_tables(folder) if use_tables else None
    if tables is not None:
        return tables.procedures.get(code, name)
    return name
