"""Community themes: what each simulated group talks about and sells.

One theme per community gives per-community hot words, product talk and a
plausible order catalogue (prices in 分).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Theme:
    code: str
    group_name: str
    brand: str
    products: tuple[str, ...]
    topics: tuple[str, ...]
    audiences: tuple[str, ...]
    praises: tuple[str, ...]
    catalog: tuple[tuple[str, int], ...]
    campaigns: tuple[str, ...]
    crisis: str
    """Flavour of a severe crisis: "food" (食物中毒), "data" (泄露) or "harm" (烂脸/维权)."""
    checkin: bool = False
    """Whether members post daily check-ins (打卡) as a habit."""


THEMES: tuple[Theme, ...] = (
    Theme(
        code="baby",
        group_name="宝妈育儿交流群",
        brand="贝贝安",
        products=(
            "婴儿奶粉",
            "纸尿裤",
            "拉拉裤",
            "婴儿湿巾",
            "辅食米粉",
            "宝宝面霜",
            "吸奶器",
            "婴儿背带",
            "儿童绘本",
            "辅食机",
            "宝宝益生菌",
        ),
        topics=(
            "辅食添加",
            "睡眠训练",
            "出牙期护理",
            "湿疹护理",
            "早教启蒙",
            "断奶",
            "疫苗接种",
            "宝宝便秘",
            "亲子阅读",
            "二胎安排",
            "夜奶",
        ),
        audiences=("六个月宝宝", "新生儿", "一岁半宝宝", "三岁孩子", "二胎家庭", "新手妈妈"),
        praises=(
            "宝宝很喜欢",
            "吸收挺好",
            "不会红屁屁",
            "用着放心",
            "性价比很高",
            "成分很安全",
            "宝宝睡得香多了",
            "冲泡很方便",
        ),
        catalog=(
            ("婴儿奶粉", 26800),
            ("纸尿裤", 12900),
            ("婴儿湿巾", 3990),
            ("辅食米粉", 5900),
            ("儿童绘本套装", 9900),
            ("吸奶器", 39900),
            ("宝宝益生菌", 16800),
        ),
        campaigns=("宝宝辅食公开课", "新手妈妈育儿直播", "纸尿裤试用装领取"),
        crisis="food",
    ),
    Theme(
        code="beauty",
        group_name="美妆护肤福利群",
        brand="悦颜",
        products=(
            "精华液",
            "面膜",
            "防晒霜",
            "洁面乳",
            "粉底液",
            "口红",
            "眼霜",
            "卸妆油",
            "爽肤水",
            "气垫",
            "身体乳",
        ),
        topics=(
            "敏感肌护理",
            "早C晚A",
            "防晒",
            "控油",
            "换季护肤",
            "持妆",
            "祛痘",
            "美白",
            "抗初老",
            "底妆技巧",
        ),
        audiences=("敏感肌", "油皮", "干皮", "学生党", "混油皮", "熬夜党"),
        praises=(
            "很保湿",
            "不闷痘",
            "上脸很服帖",
            "味道好闻",
            "吸收很快",
            "回购好几次了",
            "用完皮肤透亮",
            "一点都不油腻",
        ),
        catalog=(
            ("精华液", 39900),
            ("面膜", 9900),
            ("防晒霜", 15900),
            ("洁面乳", 6900),
            ("口红", 22000),
            ("眼霜", 32900),
        ),
        campaigns=("夏季护肤直播", "新品精华试用", "会员日美妆专场"),
        crisis="harm",
    ),
    Theme(
        code="fitness",
        group_name="燃脂训练营打卡群",
        brand="燃动",
        products=(
            "蛋白粉",
            "瑜伽垫",
            "弹力带",
            "跑鞋",
            "筋膜枪",
            "代餐奶昔",
            "智能手环",
            "跳绳",
            "健身课程",
        ),
        topics=(
            "减脂",
            "增肌",
            "跑步配速",
            "饮食控制",
            "拉伸放松",
            "HIIT",
            "核心训练",
            "体态矫正",
            "晨跑",
            "睡前拉伸",
        ),
        audiences=("新手", "上班族", "大体重", "产后妈妈", "学生党"),
        praises=(
            "效果很明显",
            "用着很顺手",
            "口感不错",
            "性价比很高",
            "坚持一个月瘦了四斤",
            "动作讲得很清楚",
            "很耐用",
        ),
        catalog=(
            ("蛋白粉", 29900),
            ("瑜伽垫", 8900),
            ("筋膜枪", 49900),
            ("训练营课程", 9900),
            ("代餐奶昔", 15900),
            ("跳绳", 3900),
        ),
        campaigns=("21天燃脂挑战", "夏日马甲线训练营", "跑步入门公开课"),
        crisis="food",
        checkin=True,
    ),
    Theme(
        code="reading",
        group_name="每日读书会",
        brand="书香",
        products=("年度会员", "纸质书", "电子书阅读器", "读书笔记本", "有声书会员", "精读课"),
        topics=(
            "《人类简史》",
            "《活着》",
            "《三体》",
            "《原则》",
            "《被讨厌的勇气》",
            "时间管理",
            "写作方法",
            "读书笔记",
            "《百年孤独》",
            "《平凡的世界》",
        ),
        audiences=("职场新人", "学生", "宝爸宝妈", "退休的朋友", "上班族"),
        praises=(
            "讲得很透彻",
            "收获很大",
            "翻译得很好",
            "排版很舒服",
            "很适合睡前听",
            "值得反复读",
        ),
        catalog=(
            ("年度会员", 19800),
            ("精读课", 9900),
            ("电子书阅读器", 99900),
            ("纸质书套装", 12800),
        ),
        campaigns=("共读《三体》", "21天阅读打卡", "作家直播分享会"),
        crisis="data",
        checkin=True,
    ),
    Theme(
        code="digital",
        group_name="数码发烧友群",
        brand="极客",
        products=(
            "蓝牙耳机",
            "充电宝",
            "机械键盘",
            "平板电脑",
            "智能手表",
            "快充头",
            "移动硬盘",
            "降噪耳机",
            "扫地机器人",
        ),
        topics=(
            "续航",
            "系统更新",
            "拍照",
            "快充协议",
            "蓝牙连接",
            "618攻略",
            "双十一攻略",
            "以旧换新",
            "降噪效果",
        ),
        audiences=("学生", "游戏玩家", "商务人士", "摄影爱好者", "长辈"),
        praises=("续航很顶", "音质很好", "手感不错", "做工扎实", "连接很稳定", "充电特别快"),
        catalog=(
            ("蓝牙耳机", 69900),
            ("充电宝", 12900),
            ("机械键盘", 39900),
            ("快充头", 9900),
            ("智能手表", 129900),
        ),
        campaigns=("新品耳机首发", "以旧换新专场", "数码好物直播"),
        crisis="data",
    ),
    Theme(
        code="fresh",
        group_name="生鲜团购群",
        brand="鲜到家",
        products=(
            "车厘子",
            "牛排",
            "大闸蟹",
            "有机蔬菜",
            "草莓",
            "三文鱼",
            "土鸡蛋",
            "脐橙",
            "水果礼盒",
        ),
        topics=("保鲜方法", "家常做法", "配送时间", "团购接龙", "产地直发", "冷链配送", "时令水果"),
        audiences=("上班族", "老人小孩", "三口之家", "独居青年"),
        praises=("很新鲜", "个头很大", "特别甜", "包装很严实", "配送很快", "家里人都说好吃"),
        catalog=(
            ("车厘子", 16800),
            ("牛排", 15800),
            ("大闸蟹礼盒", 39800),
            ("草莓", 5990),
            ("土鸡蛋", 3980),
            ("水果礼盒", 8800),
        ),
        campaigns=("车厘子团购节", "周末生鲜秒杀", "产地直播溯源"),
        crisis="food",
    ),
)

PLATFORMS: tuple[str, ...] = ("wechat", "wecom", "qq")
