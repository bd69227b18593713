//! What lines are made of: chat texts (neutral ones, and ones that hit each keyword list of the rule
//! pack), click targets, categories, and the pieces of broken lines.

/// The first chat of most personas.
pub(super) const GREETING: &str = "大家好，新人报到，请多关照🙏";

/// Everyday community chat with none of the rule pack's keywords (a test keeps it that way).
#[rustfmt::skip]
pub(super) const NEUTRAL: &[&str] = &[
    "大家早上好", "收到，谢谢群主", "今天的直播几点开始？", "这个活动还有名额吗", "谢谢分享", "好的，明白了",
    "早上好呀[太阳]", "群主辛苦了", "晚上好各位", "请问今天发货吗？", "快递什么时候能到呀", "学习了",
    "已经收到货了，包装很用心", "这个颜色好看", "有没有人一起拼团", "昨天的直播有回放吗？", "回放在哪里看",
    "老师讲得太好了", "打卡第3天", "今日打卡✅", "感谢老师的耐心解答", "这个怎么用啊？", "说明书在哪里下载",
    "小程序打不开怎么办", "链接失效了，能再发一次吗", "明天几点开团？", "我在外地，能寄过来吗", "支持顺丰吗",
    "有没有小一点的尺码", "宝宝8个月能用吗", "孩子很喜欢", "试用装还有吗", "周末有线下活动吗", "地址在哪里？",
    "群里好热闹", "欢迎新朋友", "哈哈哈哈", "👍👍👍", "[强][强]", "[玫瑰]", "OK 收到", "ok的", "thanks~",
    "Good morning ☀️", "nice！", "这个 app 怎么登录", "会员积分怎么查", "积分可以换什么", "今天天气真好",
    "大家周末愉快", "中秋快乐🥮", "国庆去哪里玩？", "我也想知道", "同问", "+1", "蹲一个回复", "已关注公众号",
    "已转发朋友圈", "群主能拉我朋友进群吗", "可以开发票吗", "发票抬头怎么改", "客服在吗？", "在吗",
    "早点休息，晚安🌙", "明天见", "下周的课程表发一下", "作业已提交", "老师，这题我不会", "第二节课的资料在哪里",
    "直播间卡了", "声音听不到", "好的谢谢", "辛苦了🙏", "这款和上次那款有什么区别？", "成分表能发一下吗",
    "保质期多久？", "适合敏感肌吗", "孕妇可以用吗", "今天几点截团", "我先看看", "等我下班再看",
    "刚下班，回看一下", "周末带娃去了", "这个群好多干货", "求推荐适合新手的", "有没有教程视频",
    "上次说的资料还有吗", "感谢群主的小礼物🎁", "抽奖什么时候开奖", "我中奖了吗？", "恭喜恭喜🎉",
];

/// Greetings of a user's first chat.
#[rustfmt::skip]
pub(super) const GREETINGS: &[&str] = &[
    GREETING, "大家好，新人报到", "朋友推荐进来的，大家好", "你好，刚加入", "hello 大家好", "扫码进群的，请多指教",
];

/// Sentences that hit `intent/price` (价格, 多少钱, 优惠, 折扣, 便宜, price).
#[rustfmt::skip]
pub(super) const PRICE_TALK: &[&str] = &[
    "这个多少钱？", "现在什么价格", "有优惠吗？", "会员有折扣吗", "能便宜点吗", "价格能再低一点吗",
    "团购价多少钱一份", "双十一有折扣吗", "老客户有没有优惠券", "比上次贵了，能便宜点不", "PRICE 多少？",
    "what's the price?", "price list 发一下", "这个价格包邮吗", "满减优惠怎么算", "两件打几折？有折扣吗",
    "学生有优惠吗", "直播间价格和小程序一样吗", "多少钱一盒", "有没有更便宜的套餐", "Price 能私聊吗",
    "优惠码在哪里领",
];

/// Sentences that hit `intent/purchase` (购买, 下单, 怎么买, 报名, 付款, buy).
#[rustfmt::skip]
pub(super) const PURCHASE_TALK: &[&str] = &[
    "怎么买？", "在哪里下单", "我想购买两份", "已付款，请查收", "报名了！", "怎么报名呀", "付款失败了怎么办",
    "buy 链接在哪", "I want to buy one", "下单了，什么时候发货", "想买，怎么买比较划算", "帮我留一份，晚上付款",
    "已经报名，等开课", "购买后多久到？", "BUY NOW 链接发一下", "小程序里怎么下单", "给我妈也购买一份",
];

/// Sentences that hit `service/complaint` (投诉, 退款, 差评, refund).
#[rustfmt::skip]
pub(super) const COMPLAINT_TALK: &[&str] = &[
    "我要投诉", "东西坏了，申请退款", "退款怎么还没到账？", "客服不回消息，我要差评", "给差评了",
    "质量太差，要求退款", "refund please", "Refund 进度能查吗", "再不处理就投诉了", "发错货了，怎么退款",
    "申请退款三天了没人理", "已经投诉到平台了",
];

// Vocabulary of chat decorations, clicks, orders and the extra fields some events carry.
#[rustfmt::skip]
pub(super) const EMOJI: &[&str] = &["😄", "👍", "🙏", "🌹", "🎉", "😂", "❤️", "[微笑]", "[抱拳]", "[强]", "[玫瑰]", "[愉快]", "~"];
#[rustfmt::skip]
pub(super) const MENUS: &[&str] = &["会员中心", "积分商城", "领券中心", "我的订单", "新人福利", "直播预约", "联系客服", "课程表"];
#[rustfmt::skip]
pub(super) const CHANNELS: &[&str] = &["group", "moments", "official_account", "mini_program", "private_chat", "qr_code"];
#[rustfmt::skip]
pub(super) const CATEGORIES: &[&str] = &["美妆护肤", "母婴", "课程", "食品生鲜", "服饰", "数码", "家居", "会员卡"];
#[rustfmt::skip]
pub(super) const CITIES: &[&str] = &["上海", "杭州", "北京", "深圳", "广州", "成都", "南京", "武汉", "苏州", "西安", "重庆", "长沙"];
#[rustfmt::skip]
pub(super) const STAFF: &[&str] = &["zhangwei", "li.na", "wang_fang", "liuyang", "chenjing", "yangmin", "zhaolei", "huangli"];
pub(super) const APP_VERSIONS: &[&str] = &["8.0.49", "8.0.50", "8.0.51", "4.1.22", "4.1.26"];

// What broken lines look like.
pub(super) const NOT_JSON: &[&str] = &[
    "ERROR upstream timeout while reading partition 3",
    "<html><body>502 Bad Gateway</body></html>",
    "type=chat user_id=wm_1 text=hello",
    "null",
    "[]",
];
#[rustfmt::skip]
pub(super) const BAD_TS: &[&str] = &["\"yesterday\"", "\"2026-13-45T25:61:00Z\"", "null", "\"2026/09/01 10:00:00\"", "\"\"", "true"];
pub(super) const UNKNOWN_TYPES: &[&str] = &["view", "share", "login", "heartbeat"];

#[cfg(test)]
mod tests {
    use super::*;

    const KEYWORDS: [&[&str]; 3] = [
        &["价格", "多少钱", "优惠", "折扣", "便宜", "price"],
        &["购买", "下单", "怎么买", "报名", "付款", "buy"],
        &["投诉", "退款", "差评", "refund"],
    ];

    fn hits(text: &str, tag: usize) -> bool {
        KEYWORDS[tag]
            .iter()
            .any(|k| text.to_lowercase().contains(k))
    }

    #[test]
    fn phrase_lists_keep_keywords_apart() {
        for text in NEUTRAL.iter().chain(GREETINGS) {
            assert!((0..3).all(|t| !hits(text, t)), "{text} hits a keyword");
        }
        for (tag, list) in [PRICE_TALK, PURCHASE_TALK, COMPLAINT_TALK]
            .into_iter()
            .enumerate()
        {
            assert!(list.iter().all(|text| hits(text, tag)), "{list:?}");
        }
    }
}
