"""Chinese chat texts: templates filled from a theme's vocabulary.

Templates times vocabulary times tails give thousands of distinct texts, so
hot words, sentiment and copy-paste detection have something real to chew on.
Ordinary texts never contain a complaint or crisis term (tests check this):
those belong to the labelled negative episodes only.
"""

from __future__ import annotations

import random
import re

from pipeline.devtools.generator.themes import Theme

COMPLAINT_TERMS: tuple[str, ...] = ("投诉", "退款", "退货", "质量问题", "客服", "差评", "骗")
"""Complaint keywords (moderate when clustered); docs/product.md, "Sentiment and escalation"."""

CRISIS_TERMS: tuple[str, ...] = (
    "曝光",
    "维权",
    "起诉",
    "律师",
    "315",
    "媒体",
    "食物中毒",
    "泄露",
    "骗子",
)
"""Crisis keywords (severe when many members use them and they spread)."""

_TERM_RE = re.compile(
    "|".join(
        r"(?<!\d)315(?!\d)" if term == "315" else re.escape(term)
        for term in sorted(COMPLAINT_TERMS + CRISIS_TERMS, key=len, reverse=True)
    )
)


def terms_in(text: str) -> list[str]:
    """Complaint and crisis terms in ``text`` ("315" only as a number of its own), in order."""
    found: list[str] = []
    for match in _TERM_RE.finditer(text):
        term = match.group(0)
        if term not in found:
            found.append(term)
    if "骗子" in found and "骗" not in found:
        found.append("骗")
    return found


CITIES = ("上海", "北京", "杭州", "广州", "深圳", "成都", "南京", "武汉", "苏州", "西安", "长沙")
INSIGHTS = (
    "坚持最重要",
    "不要急于求成",
    "方法比努力重要",
    "每天进步一点点",
    "找到适合自己的节奏",
    "多问多试",
    "先把基础打牢",
    "记录下来很有用",
)
FEELINGS = (
    "感觉很充实",
    "继续加油",
    "比昨天进步了",
    "有点累但很开心",
    "越来越有动力了",
    "给自己点个赞",
)
OPINIONS = (
    "挺有意思的",
    "学问还挺多",
    "比想象中难",
    "入门不难",
    "越研究越上头",
    "每个人情况不一样",
)
TAILS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "～",
    "！",
    "哈哈",
    "[呲牙]",
    "[微笑]",
    "😄",
    "👍",
    "[捂脸]",
    "🙏",
    "呀",
    "哈",
    "[愉快]",
    "😂",
    "[偷笑]",
)

NICK_HEADS = ("小", "阿", "大", "老", "", "", "", "")
NICK_BODIES = (
    "红",
    "明",
    "丽",
    "强",
    "芳",
    "静",
    "磊",
    "婷",
    "杰",
    "敏",
    "涛",
    "燕",
    "鹏",
    "雪",
    "欣",
    "宇",
    "琳",
    "浩",
    "晨",
    "萌",
    "可乐",
    "橙子",
    "晴天",
    "向日葵",
    "momo",
    "Lily",
    "Coco",
    "Jason",
    "糖糖",
    "果果",
    "木子",
    "一一",
    "安然",
    "青柠",
    "乐乐",
)
NICK_TAILS = (
    "",
    "",
    "",
    "妈妈",
    "爸爸",
    "同学",
    "姐",
    "哥",
    "_上海",
    "😊",
    "🌸",
    "1990",
    "的日常",
    "不吃香菜",
)


def nickname(rng: random.Random) -> str:
    """A WeChat-style display name (群昵称)."""
    return rng.choice(NICK_HEADS) + rng.choice(NICK_BODIES) + rng.choice(NICK_TAILS)


class _Slots(dict[str, str]):
    """Template slots drawn lazily, only when a template uses them."""

    def __init__(self, rng: random.Random, theme: Theme) -> None:
        super().__init__()
        self.rng = rng
        self.theme = theme

    def __missing__(self, key: str) -> str:
        rng, theme = self.rng, self.theme
        if key == "product":
            value = rng.choice(theme.products)
        elif key == "product2":
            first = self["product"]
            value = rng.choice([p for p in theme.products if p != first])
        elif key == "topic":
            value = rng.choice(theme.topics)
        elif key == "audience":
            value = rng.choice(theme.audiences)
        elif key == "praise":
            value = rng.choice(theme.praises)
        elif key == "insight":
            value = rng.choice(INSIGHTS)
        elif key == "feeling":
            value = rng.choice(FEELINGS)
        elif key == "opinion":
            value = rng.choice(OPINIONS)
        elif key == "city":
            value = rng.choice(CITIES)
        elif key == "n":
            value = str(rng.randint(2, 9))
        elif key == "brand":
            value = theme.brand
        elif key == "group":
            value = theme.group_name
        elif key == "slug":
            value = "".join(
                rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789")
                for _ in range(10)
            )
        else:
            raise KeyError(key)
        self[key] = value
        return value


def fill(rng: random.Random, theme: Theme, template: str, **given: str) -> str:
    """Fill ``template``'s ``{slots}`` from the theme (explicit values win)."""
    slots = _Slots(rng, theme)
    slots.update(given)
    return template.format_map(slots)


def with_tail(rng: random.Random, text: str) -> str:
    return text + rng.choice(TAILS)


GREETINGS = {
    "morning": (
        "早上好",
        "大家早上好",
        "早安",
        "早呀各位",
        "早上好☀️",
        "新的一天加油",
        "早安，今天也要元气满满",
        "早～",
        "早安打工人",
    ),
    "noon": ("中午好", "午饭吃啥呀", "中午好，大家吃饭了吗", "午休时间到", "中午好各位"),
    "afternoon": ("下午好", "下午茶时间到", "下午犯困了", "下午好呀"),
    "evening": ("晚上好", "下班啦", "晚上好呀各位", "今天辛苦了", "终于下班了，来群里看看"),
    "night": ("晚安", "晚安各位", "睡了睡了", "熬夜的举手", "晚安，明天见", "这么晚了还有人吗"),
}


def greeting(rng: random.Random, hour: float) -> str:
    """A greeting that fits the Shanghai time of day."""
    if 5 <= hour < 10.5:
        part = "morning"
    elif hour < 13.5:
        part = "noon"
    elif hour < 18:
        part = "afternoon"
    elif hour < 22.5:
        part = "evening"
    else:
        part = "night"
    return with_tail(rng, rng.choice(GREETINGS[part]))


QUESTIONS = (
    "请问{product}适合{audience}吗？",
    "请问{product}怎么用比较好？",
    "{product}哪里买比较划算？",
    "有人用过{product}吗？",
    "{product}和{product2}比哪个好？",
    "{product}现在有优惠吗？",
    "{product}下单后多久能到？",
    "有没有人知道{topic}要注意什么？",
    "求推荐适合{audience}的{product}",
    "{topic}大家一般怎么安排的？",
    "新手想问下{topic}从哪里开始比较好",
    "群里有{audience}吗？想交流一下{topic}",
    "{product}的链接在哪里呀？",
    "怎么买{product}？",
    "这次活动{product}价格是多少？",
    "昨天直播讲的{topic}有回放吗？",
    "请问群主，{topic}有资料可以分享吗？",
    "{topic}真的有用吗？",
    "{audience}一般多久{topic}一次？",
    "大家的{product}都是在哪买的？",
)
BOT_TRIGGERS = ("链接", "怎么买", "价格", "优惠")
"""Keywords the group bot answers automatically (自动回复)."""

ANSWERS = (
    "我用的是{product}，{praise}",
    "{product}挺好用的，{praise}",
    "建议先从{topic}开始，慢慢来",
    "群公告里有链接，可以看一下",
    "上次活动买过，{praise}",
    "看个人情况吧，{audience}的话我觉得可以",
    "可以看看置顶的文章，讲得很清楚",
    "我觉得{product}比{product2}好一点，{praise}",
    "之前群里讨论过{topic}，往上翻翻",
    "可以私聊群主问问",
    "{n}号那天直播讲过，有回放",
    "亲测有用，{praise}",
    "我家也是这样，后来慢慢就好了",
    "不用急，{insight}",
    "我一般晚上弄，{insight}",
    "同款！{praise}",
)
SHARES = (
    "分享一下今天的{topic}心得：{insight}",
    "刚入手了{product}，{praise}",
    "今天的{topic}打卡完成，{feeling}",
    "给大家看看我家的{product}",
    "第{n}天坚持{topic}，{feeling}",
    "推荐一个关于{topic}的小技巧：{insight}",
    "整理了一份{topic}笔记，需要的可以找我要",
    "今天试了群里说的方法，{feeling}",
)
DISCUSSIONS = (
    "{product}真的{praise}，推荐给大家",
    "最近在研究{topic}，感觉{opinion}",
    "大家觉得{product}和{product2}哪个更适合{audience}？",
    "{product}这次活动价很划算，已经囤了{n}个",
    "用了{n}周{product}，{praise}",
    "{topic}这件事，我觉得因人而异",
    "听群里推荐买了{product}，{praise}",
    "{audience}真的要注意{topic}",
    "{brand}的{product}一直在用，{praise}",
    "{topic}我试了{n}种方法，{opinion}",
    "今天{city}好热，{product}卖得特别快",
)
CHITCHAT = (
    "哈哈哈哈哈",
    "真的假的",
    "太真实了",
    "同意楼上",
    "学到了",
    "今天天气真好",
    "{city}今天下雨了",
    "周末大家有什么安排",
    "好羡慕啊",
    "笑死我了",
    "有道理",
    "确实是这样",
    "厉害了",
    "涨知识了",
    "我也想知道",
    "蹲一个",
    "同问",
    "马住",
    "冲冲冲",
    "太可爱了吧",
    "今天又是元气满满的一天",
    "刚下班，看看群里聊啥",
    "来晚了，错过了什么",
    "{city}的朋友多吗",
    "大家都好活跃啊",
)
POSITIVES = (
    "{product}收到了，{praise}，好评！",
    "感谢群主推荐的{product}，{praise}",
    "{product}回购第{n}次了",
    "这个群真的很有用，学到很多",
    "谢谢大家的建议，{praise}",
    "{product}性价比真的高，强烈推荐",
    "跟着群里学{topic}，{feeling}",
)
MOODS = (
    "今天好累啊",
    "下雨天真烦",
    "加班到现在，心累",
    "又失眠了",
    "堵车堵了一个小时，崩溃",
    "最近压力有点大",
    "感冒了，难受",
)
"""Everyday low mood: negative sentiment that is not a complaint about anyone."""

MECHANICAL = (
    "收到",
    "收到！",
    "收到～",
    "+1",
    "+1",
    "好的",
    "好的👌",
    "好的，谢谢",
    "1",
    "👍",
    "[强]",
    "[抱拳]",
    "[OK]",
    "嗯嗯",
    "好滴",
)
CHECKINS = ("打卡", "已打卡", "打卡✅", "今日打卡", "打卡+1")
THANKS = ("谢谢老板", "谢谢老板！", "谢谢老板[抱拳]", "恭喜发财", "手慢了[捂脸]", "谢谢红包")
STICKERS = ("", "", "", "😂", "🤣", "👍", "🌹", "🙏", "[动画表情]")
RED_PACKETS = (
    "恭喜发财，大吉大利",
    "周末快乐",
    "感谢大家支持",
    "新人报到红包",
    "福利来啦",
    "大家辛苦了",
)
LINK_TITLES = (
    "{topic}的5个误区，你中了几个？",
    "一文看懂{topic}",
    "{product}选购指南",
    "{audience}必看：{topic}全攻略",
    "{brand}新品{product}上市",
    "关于{topic}，这篇说透了",
)
LINK_HOSTS = (
    "https://mp.weixin.qq.com/s/{slug}",
    "http://xhslink.com/{slug}",
    "https://v.douyin.com/{slug}/",
    "https://m.example-shop.cn/item/{slug}",
)
NEWBIES = (
    "大家好，我是新来的，请多关照🙏",
    "新人报到，{audience}一枚",
    "大家好，刚进群，想跟大家学习{topic}",
    "你好呀，朋友推荐来的",
    "新人求带～",
    "大家好，听说这里可以交流{topic}",
)


def question(rng: random.Random, theme: Theme) -> str:
    return fill(rng, theme, rng.choice(QUESTIONS))


def answer(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(ANSWERS)))


def share(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(SHARES)))


def discussion(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(DISCUSSIONS)))


def chitchat(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(CHITCHAT)))


def positive(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(POSITIVES)))


def mood(rng: random.Random) -> str:
    return rng.choice(MOODS)


def mechanical(rng: random.Random, theme: Theme) -> str:
    """A mechanical reply: 收到 / +1 / 好的 / 打卡 and the like."""
    if theme.checkin and rng.random() < 0.4:
        return rng.choice(CHECKINS)
    if rng.random() < 0.1:
        return rng.choice(CHECKINS)
    return rng.choice(MECHANICAL)


def link(rng: random.Random, theme: Theme) -> str:
    title = fill(rng, theme, rng.choice(LINK_TITLES))
    return f"【{title}】" + fill(rng, theme, rng.choice(LINK_HOSTS))


def newbie(rng: random.Random, theme: Theme) -> str:
    return fill(rng, theme, rng.choice(NEWBIES))


# Staff (运营) and bot texts. Staff never use complaint terms, even when answering one.


def staff_announcement(rng: random.Random, theme: Theme, staff_nick: str) -> str:
    return (
        f"【群公告】欢迎来到{theme.group_name}！群规：1. 禁止发广告和无关链接；"
        "2. 友善交流，互相尊重；"
        f"3. 有问题请@{staff_nick}。每天9:00、12:00、20:00准时分享干货，记得来看哦～"
    )


STAFF_MORNING = (
    "【早安】今日话题：{topic}，欢迎大家分享自己的经验～",
    "早上好各位！今天聊聊{topic}，有问题随时问我",
    "【每日一问】你平时{topic}是怎么做的？欢迎留言",
    "早安！今天的干货：{topic}入门，中午准时分享",
)
STAFF_NOON = (
    "【干货分享】{topic}的小技巧：1. {insight}；2. 选对{product}；3. 每天坚持",
    "【知识卡片】{audience}怎么做好{topic}？看这篇：https://mp.weixin.qq.com/s/{slug}",
    "【好物推荐】{brand}{product}，{praise}，群内专属价，详情看群公告",
)
STAFF_EVENING = (
    "【今晚答疑】8点半在群里答疑，关于{topic}的问题可以先留言",
    "【晚间分享】今天大家聊的{topic}很精彩，整理成笔记发在群公告了",
    "【福利】{product}限时特价，仅限群内成员，今晚12点截止",
)
STAFF_ANSWERS = (
    "这个问题可以看一下群公告里的说明",
    "{product}建议按说明使用，有问题随时私聊我",
    "活动价今晚截止，链接在群公告",
    "已经帮您查过了，明天就能发货",
    "这个因人而异，建议先少量试试",
    "可以的，{audience}也适合",
    "感谢提问！{topic}明天会专门分享一期",
)


def staff_post(rng: random.Random, theme: Theme, slot: str) -> str:
    pool = {"morning": STAFF_MORNING, "noon": STAFF_NOON, "evening": STAFF_EVENING}[slot]
    return fill(rng, theme, rng.choice(pool))


def staff_campaign_notice(rng: random.Random, theme: Theme, title: str, when: str) -> str:
    templates = (
        "【活动通知】{title}将于{when}开始，报名链接：https://m.example-shop.cn/act/{slug}，名额有限，先到先得！",
        "【活动提醒】{title}报名进行中，{when}准时开始，已报名的小伙伴记得设置提醒～",
        "【福利活动】{title}来啦！{when}开始，群内成员专享福利，点击报名：https://m.example-shop.cn/act/{slug}",
    )
    return fill(rng, theme, rng.choice(templates), title=title, when=when)


def staff_answer(rng: random.Random, theme: Theme, nick: str) -> str:
    return f"@{nick} 您好，" + fill(rng, theme, rng.choice(STAFF_ANSWERS))


def staff_complaint_reply(rng: random.Random, nick: str | None) -> str:
    if nick is None:
        return rng.choice(
            (
                "收到大家的反馈，我们高度重视，正在紧急核实，请大家稍等",
                "各位家人，情况我们已经了解，正在和相关部门核实，今天之内给大家答复",
            )
        )
    return f"@{nick} " + rng.choice(
        (
            "亲，已经私信您了，我们马上帮您处理🙏",
            "非常抱歉给您带来不好的体验，已私聊您跟进",
            "收到，麻烦把订单截图私发我，马上处理",
        )
    )


def bot_welcome(rng: random.Random, theme: Theme, nick: str) -> str:
    return rng.choice(
        (
            f"欢迎 @{nick} 加入{theme.group_name}🎉 请先查看群公告，有问题随时@群管理～",
            f"热烈欢迎新朋友 @{nick} ！记得修改群昵称哦",
            f"欢迎新人 @{nick} ，进群请先看群公告[玫瑰]",
        )
    )


def bot_auto_reply(rng: random.Random, theme: Theme) -> str:
    templates = (
        "【自动回复】{product}购买链接：https://m.example-shop.cn/item/{slug} ，活动详情请看群公告",
        "【自动回复】常见问题请查看：https://help.example-shop.cn/{slug}",
    )
    return fill(rng, theme, rng.choice(templates))


def system_join(rng: random.Random, platform: str, nick: str, inviter_nick: str | None) -> str:
    if platform == "qq":
        return f"{nick} 加入了本群"
    if inviter_nick:
        return f'"{inviter_nick}"邀请"{nick}"加入了群聊'
    return f'"{nick}"通过扫描二维码加入群聊'


# Negative episodes (labelled in the ground truth).

MILD = (
    "买的{product}有点小瑕疵，有点失望",
    "{product}等了五天还没发货，有点着急",
    "这次的{product}和宣传的不太一样，不太满意",
    "联系客服半天没人回，有点无语",
    "{product}用了两天就坏了，能换吗？",
    "{product}收到就漏了一半，挺闹心的",
    "{product}包装破损了，心情不好",
    "感觉这次的{product}没有上次好用了",
    "{product}发错货了，有点无奈",
    "{product}的赠品没收到，怎么回事",
)
MODERATE = (
    "这批{product}质量问题太明显了，我要退货",
    "我的也是！已经申请退款了，到现在没动静",
    "客服一直不回复，我要投诉",
    "能不能给个说法？退款什么时候到账",
    "同一批次的{product}都有质量问题吧，大家都退货了吗",
    "投诉电话打不通，客服也联系不上",
    "退款申请提交三天了还没处理，太慢了",
    "已经在平台投诉了，等结果",
    "{product}质量问题这么多，还卖？要求退款",
    "+1，我家的{product}也是这样，申请退货了",
    "找客服说要等审核，退款到底什么时候能到",
)
SEVERE = {
    "generic": (
        "这家就是骗子公司！大家一起维权！",
        "我已经咨询律师了，准备起诉他们",
        "已经打315投诉了，大家也去投",
        "我已经联系媒体了，一定要曝光他们",
        "{product}出问题还不处理，必须曝光！",
        "建议大家保留证据，集体维权",
        "律师说可以集体起诉，想参加的私聊我",
        "骗子！收了钱就不管了，我要找媒体",
        "这件事必须让媒体知道，曝光{brand}",
        "315见！",
        "维权群已经建好了，被坑的都来",
        "{brand}就是骗子，已经在准备起诉材料",
    ),
    "food": (
        "吃了{product}之后全家上吐下泻，医生说是食物中毒！",
        "我家孩子也是，吃完{product}就食物中毒住院了",
        "食物中毒这么严重的事，必须曝光",
        "{product}导致食物中毒，已经报给媒体了",
    ),
    "data": (
        "我的个人信息被泄露了，天天接到骚扰电话，肯定是{brand}泄露的",
        "买了{product}之后信息就泄露了，准备起诉",
        "信息泄露这事必须找律师",
        "群里好多人信息都泄露了，大家一起维权",
    ),
    "harm": (
        "用了{product}烂脸了，去医院花了好几千，要维权",
        "{product}就是三无产品，必须曝光！",
        "我也烂脸了，已经找律师了",
        "用{product}过敏住院，准备起诉{brand}",
    ),
}
SPREAD = (
    "隔壁群都炸了，说{brand}的{product}出大事了，有人要维权",
    "听说有人找媒体曝光了？真的假的",
    "我们群也有人中招了吗？准备一起维权",
    "刚看到消息，{brand}被人举报到315了",
    "大家快去看看，好多人在维权，已经上热搜了",
    "隔壁群说已经找律师起诉了",
    "这种骗子公司必须曝光",
    "我也买了{product}，要不要一起维权",
)


def mild_complaint(rng: random.Random, theme: Theme) -> str:
    return fill(rng, theme, rng.choice(MILD))


def moderate_complaint(rng: random.Random, theme: Theme) -> str:
    return with_tail(rng, fill(rng, theme, rng.choice(MODERATE)).rstrip("！"))


def severe_complaint(rng: random.Random, theme: Theme) -> str:
    pool = SEVERE["generic"] + SEVERE[theme.crisis] + SEVERE[theme.crisis]
    return fill(rng, theme, rng.choice(pool))


def spread_complaint(rng: random.Random, theme: Theme, source: Theme) -> str:
    return fill(
        rng, theme, rng.choice(SPREAD), brand=source.brand, product=rng.choice(source.products)
    )
