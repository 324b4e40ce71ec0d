"""The little knowledge the injectors need: catalogue codes by role, pair dictionaries, diagnoses.

Item codes are those of the shipped starter catalogue (src/yibao/catalog/data/starter_catalog.csv); an
injector skips a variant whose items the catalogue in use does not hold. Diagnosis codes are ICD-10
医保版 2.0 codes as they appear in the CHS-DRG 1.1 tables (shared/data/chs-drg-1.1); procedure codes
are ICD-9-CM-3 医保版. The pair dictionaries (which item includes which, which cheap item is swapped for
which dear one) are yibao's own illustrations of the kinds of pairs a 两库 knowledge base holds, not an
official list.

>>> DX["Z51.100"]
'为肿瘤化学治疗疗程'
>>> DUPLICATE_PAIRS[0]
('003205000040000', '003201000010000')
"""

from __future__ import annotations

# --- services --------------------------------------------------------------------------------
BED = "001109000010100"  # 普通病房床位费(三人间)
BED_ICU = "001109000050000"  # 监护病房床位费(ICU)
NURSE_1 = "001201000030000"  # I级护理
NURSE_2 = "001201000040000"  # II级护理
NURSE_3 = "001201000050000"  # III级护理
WARD_ROUND = "001102000050000"  # 住院诊察费
OUT_VISIT = "001102000010000"  # 普通门诊诊察费
CHIEF_VISIT = "001102000030000"  # 主任医师门诊诊察费
IV_DRIP = "001204000060000"  # 静脉输液
IV_PUSH = "001204000030000"  # 静脉注射
IM = "001204000010000"  # 肌肉注射
DRESS_S = "001206000010100"  # 换药(小)
DRESS_M = "001206000010200"  # 换药(中)
DRESS_L = "001206000010300"  # 换药(大)
NEBULISE = "001208000010000"  # 雾化吸入
OXYGEN = "001210000010000"  # 氧气吸入
DR_CHEST = "002101020150000"  # DR胸部正位
CT = "002103000010000"  # CT平扫
CT_ENHANCED = "002103000020000"  # CT增强
MRI = "002104000010000"  # MRI平扫
MRI_ENHANCED = "002104000020000"  # MRI增强
B_ULTRASOUND = "002201000010000"  # B超常规检查
COLOUR_DOPPLER = "002202000010000"  # 彩色多普勒超声
ECHO = "002203000010000"  # 超声心动图
TRANSVAGINAL_US = "002206000010000"  # 经阴道超声检查 (限女性)
CBC = "002501010150000"  # 血常规
URINE = "002501020350000"  # 尿常规
BILIRUBIN = "002503010010000"  # 总胆红素
ALT = "002503050010000"  # 丙氨酸氨基转移酶
CREATININE = "002503070020000"  # 肌酐
URIC_ACID = "002503070050000"  # 尿酸
GLUCOSE = "002503020020000"  # 血糖
HBA1C = "002503020050000"  # 糖化血红蛋白
CHOLESTEROL = "002503030010000"  # 总胆固醇
CRP = "002504010010000"  # C反应蛋白
PCT = "002504010100000"  # 降钙素原
BNP = "002503080100000"  # BNP
ECG = "003107010010000"  # 常规心电图
HOLTER = "003107010080000"  # 动态心电图
PSA = "002504040010000"  # tPSA (限男性)
TCT = "002703000010000"  # TCT (限女性)
HCG = "002503100010000"  # 尿妊娠试验 (限女性)
HPV = "002504030010000"  # HPV (限女性)
COLPOSCOPY = "003112020010000"  # 阴道镜 (限女性)
DIALYSIS = "003110000060000"  # 血液透析 (限门诊慢特病或住院)
ANGIOGRAPHY = "003201000010000"  # 冠状动脉造影术
PCI = "003205000040000"  # 经皮冠状动脉支架置入术
LOCAL_ANAESTHESIA = "003301000010000"  # 局部浸润麻醉
SPINAL_ANAESTHESIA = "003301000030000"  # 椎管内麻醉
GENERAL_ANAESTHESIA = "003301000050000"  # 全身麻醉
CATARACT = "003304040010000"  # 白内障超声乳化+人工晶体植入
APPENDECTOMY = "003310030010000"  # 阑尾切除术
LAP_CHOLECYSTECTOMY = "003310010050000"  # 腹腔镜胆囊切除术
HIP_REPLACEMENT = "003315050010000"  # 人工全髋关节置换术
KNEE_REPLACEMENT = "003315060010000"  # 人工全膝关节置换术
REHAB_EXERCISE = "003402000010000"  # 运动疗法
SHORTWAVE = "003401000010000"  # 超短波治疗
ACUPUNCTURE = "004300000010000"  # 普通针刺
CHILD_SCALP_IV = "001204000070000"  # 小儿头皮静脉输液 (限6岁及以下)
CHILD_MASSAGE = "004400000100000"  # 小儿推拿 (限14岁及以下)
NORMAL_DELIVERY = "003316010010000"  # 单胎顺产接生 (限女性)
HEALTH_CHECK = "001108000010000"  # 健康体检 (丙类)
LASER_FRECKLE = "003319020200000"  # 激光祛斑(美容) (丙类)

# --- consumables -----------------------------------------------------------------------------
INFUSION_SET = "C01010100100100001658029855"  # 一次性使用输液器
SYRINGE = "C01010200200100004029650538"  # 注射器 5ml
GAUZE = "C01040101300100000636955799"  # 医用脱脂纱布块
ALGINATE = "C01040301500100000051552655"  # 藻酸盐敷料
SILK_SUTURE = "C01030201200100002170394260"  # 非吸收性外科缝线
ABSORBABLE_SUTURE = "C01030101100100002143146180"  # 可吸收性外科缝线
DIALYSER = "C02030102300100002184757334"  # 血液透析器
DIALYSIS_LINES = "C02030202400100000492136779"  # 血液透析管路
STENT = "C02010101900100001008722701"  # 冠状动脉药物洗脱支架
HIP_PROSTHESIS = "C03010102600100003271545119"  # 人工髋关节假体
KNEE_PROSTHESIS = "C03010202700100000179398883"  # 人工膝关节假体
BONE_CEMENT = "C03030103000100003114560027"  # 骨水泥
LENS = "C05010103200100000090875533"  # 单焦点人工晶状体
TROCAR = "C06010103400100002684290639"  # 腹腔镜穿刺器

# --- drugs -----------------------------------------------------------------------------------
AMOXICILLIN = "XJ01CAW001A010010167184"
CEFUROXIME = "XJ01DCA006A001010191066"
CEFTRIAXONE = "XJ01DDY007B002010154821"
LEVOFLOXACIN = "XJ01MAH012A001010112484"
AZITHROMYCIN = "XJ01FAH010A001010151523"
METFORMIN = "XA10BAY026A001010127690"  # 限30天
GLIMEPIRIDE = "XA10BBG028A001010199861"
SITAGLIPTIN = "XA10BHY029A001010155502"  # 限E11
DAPAGLIFLOZIN = "XA10BKN030A001010111970"  # 限E11/I50/N18
SEMAGLUTIDE = "XA10BJG032B001010188734"  # 限E11
INSULIN_GLARGINE = "XA10AEK033B001010134235"  # 限E10/E11
AMLODIPINE = "XC08CAD036A001010172582"  # 限30天
NIFEDIPINE_CR = "XC08CAZ037A004010198715"
LOSARTAN = "XC09CAL039A001010121401"
ENALAPRIL = "XC09AAQ040A001010125345"
METOPROLOL = "XC07ABW042A001010140020"
BISOPROLOL = "XC07ABR043A001010159269"
SACUBITRIL = "XC09DXC041A001010168827"  # 限I50/I10
ATORVASTATIN = "XC10AAZ046A001010179788"  # 限30天
ROSUVASTATIN = "XC10AAB047A001010175443"  # 限30天
EZETIMIBE = "XC10AXB048A001010133538"
ASPIRIN = "XB01ACF050A002010101715"
CLOPIDOGREL = "XB01ACW051A001010114649"
TICAGRELOR = "XB01ACC052A001010180627"  # 限I20-I24
OMEPRAZOLE = "XA02BCH060A011010168513"
RABEPRAZOLE = "XA02BCT062A002010120848"
FAMOTIDINE = "XA02BAV063A001010105287"
SALINE = "XB05XAG069B003010148473"  # 0.9%氯化钠注射液
GLUCOSE_5 = "XB05BAM070B003010143974"  # 5%葡萄糖注射液
IBUPROFEN_SR = "XM01AES075A012010196992"
IBUPROFEN_SUSPENSION = "XM01AEL076A041010175985"  # 限儿童 (≤17)
PARACETAMOL = "XN02BEP077A001010180866"
PARACETAMOL_DROPS = "XN02BEE078A041010187887"  # 限儿童
CELECOXIB = "XM01AHB079A010010191575"
FUROSEMIDE = "XC03CAE044A001010139903"
PACLITAXEL = "XL01CDA101B001010107700"
CISPLATIN = "XL01XAD103B001010175972"
OXALIPLATIN = "XL01XAA104B002010186679"
ONDANSETRON = "XA04AAH068B001010130318"
DEXAMETHASONE = "XH02ABA084B001010149510"
LETROZOLE = "XL02BGL110A001010108735"  # 限女性, C50
TAMSULOSIN = "XG04CAT093A012010173601"  # 限男性, N40
FINASTERIDE = "XG04CBE094A001010145042"  # 限男性, N40
PROGESTERONE = "XG03DAF089B001010139667"  # 限女性
DYDROGESTERONE = "XG03DBK090A001010153146"  # 限女性
EPOETIN = "XB03XAU122B001010162094"  # 限N18/D63
IRON_SUCROSE = "XB03ACS123B001010170319"
VITAMIN_C = "XA11GAW137A001010158992"  # 甲类
MULTIVITAMIN = "XA11AAY138A001010163975"  # 丙类
VITAMIN_E = "XA11HAP139A013010106407"  # 丙类
LIANHUA = "ZA03AAZ144A010010168739"  # 连花清瘟胶囊
DANSHEN = "ZA12BAZ145A031010164881"  # 复方丹参滴丸
BANLANGEN = "ZA03AAR146A020010161807"  # 板蓝根颗粒
NAOXINTONG = "ZA12BAT158A010010125964"  # 脑心通胶囊
MONTMORILLONITE = "XA07BCJ065A050010108118"  # 蒙脱石散

# --- diagnoses (ICD-10 医保版 2.0) -------------------------------------------------------------
DX: dict[str, str] = {
    "J06.900": "急性上呼吸道感染",
    "K29.500": "慢性胃炎",
    "I10.x09": "原发性高血压",
    "E11.900": "2 型糖尿病",
    "E78.500": "高脂血症",
    "M54.502": "腰痛",
    "J18.900": "肺炎",
    "I63.900": "脑梗死",
    "K80.101": "胆囊结石伴慢性胆囊炎",
    "K35.300": "急性阑尾炎伴局限性腹膜炎",
    "H25.900": "老年性白内障",
    "S72.000": "股骨颈骨折",
    "I50.900": "心力衰竭",
    "I25.103": "冠状动脉粥样硬化性心脏病",
    "I20.000": "不稳定型心绞痛",
    "J44.100": "慢性阻塞性肺病伴有急性加重",
    "Z51.100": "为肿瘤化学治疗疗程",
    "C50.900": "乳房恶性肿瘤",
    "C50.901": "男性乳腺恶性肿瘤",
    "C34.900x001": "肺恶性肿瘤",
    "C18.900": "结肠恶性肿瘤",
    "N18.500": "慢性肾脏病 5 期",
    "Z49.101": "血液透析",
    "M17.000": "原发性双侧膝关节病",
    "M16.000": "原发性双侧髋关节病",
    "A05.900": "细菌性食物中毒",
    "R13.x00": "吞咽困难",
    "I67.800x003": "脑血管供血不足",
    "R51.x00": "头痛",
    "J96.000": "急性呼吸衰竭",
    "E87.102": "低钠血症",
    "N17.900": "急性肾衰竭",
    "D62.x00": "急性出血后贫血",
    "E43.x00": "重度蛋白质-能量营养不良",
    "D64.900": "贫血",
    "N40.x00": "前列腺增生",
    "C61.x00": "前列腺恶性肿瘤",
    "O80.000": "头位顺产",
    "L81.100": "黄褐斑",
    "J45.900": "哮喘",
    "K21.001": "反流性食管炎",
    "C16.900": "胃恶性肿瘤",
    "C22.000": "肝细胞癌",
    "H35.300": "黄斑和后极变性",
    "G30.900": "阿尔茨海默病",
}


DEPT_ORDERS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("XL01FGZ115B001010182646", "C18.900", ("A04.01", "A03.02", "A50.01", "A04", "A03"), 2),  # 贝伐珠单抗, 结肠癌
    ("XL01FFE116B001010179096", "C22.000", ("A04.01", "A03.02", "A50.01", "A04", "A03"), 2),  # 信迪利单抗, 肝细胞癌
    ("XL01FDJ113B002010190524", "C16.900", ("A04.01", "A03.02", "A04", "A03"), 3),  # 曲妥珠单抗, 胃癌
    ("XL01EBK108A001010148394", "C34.900x001", ("A03.01", "A04.05", "A03", "A50.01"), 3),  # 吉非替尼片, 肺癌
    ("XL01EBF107A001010126933", "C34.900x001", ("A03.01", "A04.05", "A03"), 1),  # 甲磺酸奥希替尼片
    ("XL01BAB105B002010175371", "C34.900x001", ("A03.01", "A04.05", "A03"), 2),  # 注射用培美曲塞二钠
    ("XS01LAC135B001010156870", "H35.300", ("A03.07", "A03.10", "A03"), 1),  # 雷珠单抗, 黄斑变性 (限眼科)
    ("XN05AHT124A001010190303", "G30.900", ("A03.10", "A03", "A50.01", "A21"), 3),  # 奥氮平片, 痴呆的精神行为症状
)
"""限定开单科室 orders for catalogue_scope's department variant: (item, diagnosis fitting its indication,
the departments that plausibly order it although they may not — 普通外科 giving a PD-1 inhibitor, 内分泌科
injecting 雷珠单抗, 老年病科 prescribing 奥氮平 for a dementia patient's agitation — most likely first, and
at most this many packages or vials). Which departments may order each item is the knowledge base's
(rules_data/kb/restrictions.csv ``depts``)."""


def dx(code: str) -> tuple[str, str]:
    """(code, name) of a diagnosis in :data:`DX`."""
    return code, DX[code]


# --- procedures (ICD-9-CM-3 医保版) -------------------------------------------------------------
OPRN: dict[str, str] = {
    "51.2300": "腹腔镜下胆囊切除术",
    "47.0901": "阑尾切除术",
    "13.4100x001": "白内障超声乳化抽吸术",
    "81.5100": "全髋关节置换",
    "81.5400": "全部膝关节置换",
    "36.0601": "冠状动脉药物涂层支架置入术",
    "39.9500": "血液透析",
}

# --- pair dictionaries -------------------------------------------------------------------------
DUPLICATE_PAIRS: tuple[tuple[str, str], ...] = (
    (PCI, ANGIOGRAPHY),  # 支架置入术的项目内涵含冠脉造影
    (GENERAL_ANAESTHESIA, LOCAL_ANAESTHESIA),  # 全麻含局部浸润麻醉
    (BED_ICU, BED),  # 同日ICU床位与普通床位
    (NURSE_1, NURSE_2),  # 同日两个护理等级
    (IV_DRIP, IV_PUSH),  # 静脉输液含静脉注射(同一组)
)
"""(package or including item, component it includes): billing both at one time is 重复收费."""

SWAP_PAIRS: tuple[tuple[str, str], ...] = (
    (B_ULTRASOUND, COLOUR_DOPPLER),
    (DRESS_S, DRESS_L),
    (DRESS_M, DRESS_L),
    (NURSE_3, NURSE_1),
    (NURSE_2, NURSE_1),
    (CT, CT_ENHANCED),
    (MRI, MRI_ENHANCED),
    (OUT_VISIT, CHIEF_VISIT),
    (IM, IV_DRIP),
    (ECG, HOLTER),
    (SILK_SUTURE, ABSORBABLE_SUTURE),
    (GAUZE, ALGINATE),
)
"""(item done, dearer item billed) for 串换项目/耗材 (B超→彩超, 小换药→大换药 …)."""

UNBUNDLE_ITEMS: tuple[str, ...] = (
    IV_DRIP,
    DRESS_M,
    NEBULISE,
    REHAB_EXERCISE,
    ACUPUNCTURE,
    SHORTWAVE,
    IM,
    OXYGEN,
)
"""Per-time services that a 分解收费 bill splits into several lines."""

CC_DIAGNOSES: tuple[str, ...] = ("J96.000", "N17.900", "E43.x00", "E87.102", "D62.x00", "I50.900", "J18.900")
"""CC/MCC secondary diagnoses an upcoding bill adds (CHS-DRG 1.1 lists them as MCC or CC)."""

CC_SUPPORT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "J96.000": ((PCT, CRP, DR_CHEST), (OXYGEN,)),
    "N17.900": ((CREATININE, URIC_ACID, URINE), (FUROSEMIDE,)),
    "E43.x00": ((BILIRUBIN, ALT, CBC), ()),
    "E87.102": ((CREATININE, GLUCOSE), (SALINE,)),
    "D62.x00": ((CBC,), (IRON_SUCROSE,)),
    "I50.900": ((BNP, ECHO), (FUROSEMIDE,)),
    "J18.900": ((CRP, PCT, DR_CHEST), (CEFTRIAXONE,)),
}
"""For a legitimately sicker case (hard negative of upcoding): the tests and treatment that support
the added CC/MCC."""

EXAM_BUNDLE: tuple[str, ...] = (
    CBC,
    URINE,
    ALT,
    BILIRUBIN,
    CREATININE,
    GLUCOSE,
    CHOLESTEROL,
    ECG,
    DR_CHEST,
    B_ULTRASOUND,
    CT,
)
"""The identical 体检式 bundle of a fabricated admission."""

VAGUE_ADMISSION_DX: tuple[str, ...] = ("I67.800x003", "M54.502", "K29.500", "R51.x00")
"""Vague principal diagnoses typical of 体检住院 / 虚假住院."""

CASHOUT_BASKETS: tuple[tuple[tuple[str, int], ...], ...] = (
    ((LIANHUA, 2), (AMOXICILLIN, 2), (IBUPROFEN_SR, 1)),
    ((DANSHEN, 3), (NAOXINTONG, 2)),
    ((OMEPRAZOLE, 2), (MONTMORILLONITE, 3), (BANLANGEN, 2)),
    ((ATORVASTATIN, 2), (ASPIRIN, 3)),
)
"""Fixed baskets (item, packages) swiped again and again in a 空刷 burst."""

CHRONIC_DRUGS: tuple[tuple[str, str], ...] = (
    (NIFEDIPINE_CR, "I10.x09"),
    (LOSARTAN, "I10.x09"),
    (ENALAPRIL, "I10.x09"),
    (METOPROLOL, "I10.x09"),
    (GLIMEPIRIDE, "E11.900"),
    (EZETIMIBE, "E78.500"),
    (ASPIRIN, "I25.103"),
)
"""Chronic-disease drugs without a days-supply limit in the starter catalogue, with the diagnosis that
makes a 长处方 (up to 12 weeks) legitimate."""

GENDER_ITEMS: dict[str, tuple[str, ...]] = {
    "2": (TRANSVAGINAL_US, TCT, HCG, HPV, COLPOSCOPY, PROGESTERONE, DYDROGESTERONE),
    "1": (PSA, TAMSULOSIN, FINASTERIDE),
}
"""Items restricted to one sex (catalogue lmt_gend), by the sex they are restricted to."""

CHILD_ITEMS: tuple[str, ...] = (CHILD_SCALP_IV, CHILD_MASSAGE, IBUPROFEN_SUSPENSION, PARACETAMOL_DROPS)
"""Items restricted to children (catalogue lmt_age_max)."""

OUT_OF_SCOPE_SWAPS: tuple[tuple[str, str], ...] = (
    (MULTIVITAMIN, VITAMIN_C),
    (VITAMIN_E, VITAMIN_C),
)
"""(丙类 item sold, in-list item billed) for a pharmacy's 目录外 sales."""

COSMETIC: tuple[tuple[str, str, str], ...] = (("L81.100", LASER_FRECKLE, SHORTWAVE),)
"""(cosmetic diagnosis, 丙类 cosmetic service done, payable service billed)."""
