"""The labelled phrases the intent classifier learns from, in English and Chinese.

Items the user names are written ``X`` and ``Y`` (the assistant replaces a recognised item mention by these
letters before classifying, so the classifier never depends on one catalogue's titles). Catalogue words (genres,
brands, products) stay as words: they are what a product request is made of. These phrases are the classifier's
training data only; the evaluation set (``benchmarks/assistant/``) is worded apart from them.
"""

from __future__ import annotations

INTENTS = ("find", "recommend", "similar", "fact", "compare", "faq", "smalltalk", "out_of_scope")

EN: dict[str, list[str]] = {
    "find": [
        "a cheap stapler", "show me duct tape", "I need some 3d printer filament", "looking for a digital caliper",
        "do you have heat shrink tubing", "comedies from the 90s", "horror movies", "find me a thriller",
        "any westerns from before 1970", "I want a red dress under 50 dollars", "search for safety glasses",
        "cheaper ones", "in red", "not by Stanley", "only the ones from 3M", "what about dramas",
        "show me more", "something in black", "staples for a staple gun", "pla filament 1.75mm",
        "films with Tom Hanks", "movies directed by Steven Spielberg", "sci-fi from the eighties",
        "I'm after some electrical tape", "where can I find pipe fittings", "get me a soldering iron",
        "newer ones please", "older ones", "any animated films", "list some war movies", "gloves for the lab",
        "can you find a multimeter", "I need adhesive that works on plastic", "cheaper please",
        "the same but from Gorilla", "are there any documentaries", "romantic comedies", "crime films from 1995",
        "something under 20 dollars", "brass fittings", "a tape measure", "do you sell toothbrushes",
    ],
    "recommend": [
        "recommend me something", "what should I watch tonight", "any suggestions for me", "what would I like",
        "pick something for me", "surprise me", "what do you recommend", "give me some recommendations",
        "what should I buy next", "suggest a movie for me", "based on my history what should I see",
        "recommend me a comedy", "what do you think I'd enjoy", "I'm bored, any ideas", "something for me to watch",
        "what's good for me", "recommend some products for me", "any picks for me today", "personal recommendations",
        "what would you suggest I try", "what else would I like", "recommend a horror film I haven't seen",
        "choose a film for me", "help me decide what to watch", "what fits my taste",
    ],
    "similar": [
        "something like X", "more like X", "movies similar to X", "anything like X but funnier",
        "I loved X, what else is like it", "similar to X", "if I liked X what else would I like",
        "products like X", "alternatives to X", "more like the first one", "something like that but scarier",
        "similar items to the second one", "what's comparable to X", "others like X", "like X but newer",
        "films in the style of X", "other products like this one", "anything similar to it",
        "give me things like X", "X was great, more of that please", "same vibe as X",
        "replacements for X", "more like this", "similar ones", "what goes well with X",
    ],
    "fact": [
        "who directed X", "who is the director of X", "what year did X come out", "when was X released",
        "who stars in X", "who's in X", "what is X about", "what genre is X", "who makes X", "what brand is X",
        "how much is X", "what's the price of the second one", "does X work with Y", "is X compatible with Y",
        "does it fit Y", "will the first one work with Y", "what is the plot of X", "tell me about X",
        "what category is X in", "who acted in it", "when did it come out", "who made the third one",
        "what's it about", "is it a comedy", "what kind of movie is X", "describe the second one",
        "what is the brand of it", "what are the specs of X", "how old is X", "which year is X from",
        "who directed it", "does the second one work with Y", "is X made by Y", "what's the cast of X",
    ],
    "compare": [
        "compare X and Y", "X vs Y", "X or Y, which is better", "what's the difference between X and Y",
        "compare the first two", "which one is better, the first or the second", "how does X compare to Y",
        "X versus Y", "compare them", "first one or third one", "which is newer, X or Y",
        "is X better than Y", "difference between the second and the third", "compare the two",
        "which should I get, X or Y", "how do X and Y differ", "compare these two", "X compared with Y",
    ],
    "faq": [
        "what is your return policy", "how long does shipping take", "can I cancel my order",
        "do you ship internationally", "how do I return an item", "what payment methods do you accept",
        "is there a warranty", "how can I track my order", "how do I contact customer service",
        "can I change my delivery address", "do you offer refunds", "when will my order arrive",
        "how much is shipping", "do you have a store near me", "can I pay with paypal", "what are your hours",
        "how do I reset my password", "is my data safe with you", "do you price match",
        "how do I exchange a product", "what if my item arrives damaged", "do you offer gift cards",
        "how do subscriptions work", "can I cancel my subscription", "is there free delivery",
    ],
    "smalltalk": [
        "hi", "hello", "hey there", "good morning", "thanks", "thank you", "thanks a lot", "how are you",
        "who are you", "what can you do", "bye", "goodbye", "ok great", "cool", "nice", "you're helpful",
        "good evening", "what's your name", "see you", "great, thanks", "awesome", "hello, anyone there",
    ],
    "out_of_scope": [
        "what's the weather tomorrow", "who won the election", "write me a poem", "tell me a joke",
        "what is the capital of France", "solve this equation", "translate this to German",
        "what time is it in Tokyo", "book me a flight", "how do I cook pasta", "what's the news today",
        "help me with my homework", "who is the president", "play some music", "what's bitcoin worth",
        "write some python code", "what's the meaning of life", "set an alarm for 7", "how tall is Everest",
        "order me a pizza", "what's 15 times 23", "give me medical advice", "who will win the world cup",
    ],
}

ZH: dict[str, list[str]] = {
    "find": [
        "找一个便宜的订书机", "有没有胶带", "我要买3D打印耗材", "给我看看数字卡尺", "有热缩管吗", "九十年代的喜剧",
        "恐怖片", "找一部惊悚片", "1970年以前的西部片", "50元以下的红色连衣裙", "搜索护目镜", "便宜一点的",
        "要红色的", "不要Stanley的", "只要3M的", "那剧情片呢", "再多给我几个", "黑色的", "订书钉",
        "1.75毫米的PLA耗材", "汤姆·汉克斯演的电影", "斯皮尔伯格导演的电影", "八十年代的科幻片", "我想找电工胶带",
        "哪里有管件", "给我找个电烙铁", "新一点的", "老一点的", "有动画片吗", "列几部战争片", "实验室用的手套",
        "帮我找个万用表", "能粘塑料的胶水", "再便宜点", "换成Gorilla的", "有纪录片吗", "浪漫喜剧", "1995年的犯罪片",
        "20元以内的", "黄铜接头", "卷尺", "你们卖牙刷吗", "给我看看耳机", "给我看看台灯", "看一下螺丝刀", "我要买电池",
        "找一下扳手",
    ],
    "recommend": [
        "给我推荐点东西", "今晚看什么好", "有什么推荐给我的", "我会喜欢什么", "帮我挑一个", "给我个惊喜",
        "你推荐什么", "给我一些推荐", "我接下来该买什么", "推荐一部电影给我", "根据我的记录推荐一下",
        "推荐一部喜剧给我", "你觉得我会喜欢什么", "好无聊，有什么建议", "给我找点看的", "适合我的有哪些",
        "为我推荐一些商品", "今天有什么推荐", "个性化推荐", "我还会喜欢什么", "推荐一部我没看过的恐怖片",
        "帮我选一部电影", "帮我决定看什么", "符合我口味的",
    ],
    "similar": [
        "类似X的", "和X差不多的", "跟X相似的电影", "像X但是更搞笑的", "我喜欢X，还有类似的吗", "和X一样的",
        "喜欢X的人还喜欢什么", "X这样的产品", "X的替代品", "更像第一个的", "类似的但是更吓人", "和第二个相似的",
        "能和X相比的", "别的像X的", "像X但新一点的", "风格像X的电影", "和这个类似的产品", "跟它差不多的",
        "给我一些像X的", "X很好看，再来点这样的", "同类的", "类似的", "和这个一样的",
    ],
    "fact": [
        "X是谁导演的", "X的导演是谁", "X是哪一年上映的", "X什么时候上映", "X的主演是谁", "谁演了X", "X讲的是什么",
        "X是什么类型的", "X是哪个牌子的", "X是谁生产的", "X多少钱", "第二个多少钱", "X能用于Y吗", "X和Y兼容吗",
        "它适用于Y吗", "第一个能配Y用吗", "X的剧情是什么", "介绍一下X", "X属于哪一类", "谁演的", "它是哪年的",
        "第三个是谁生产的", "它讲什么", "它是喜剧吗", "X是什么样的电影", "描述一下第二个", "它是什么品牌",
        "X的规格是什么", "X是哪年的", "它是谁导演的", "第二个能用于Y吗", "X是Y生产的吗", "X有哪些演员",
    ],
    "compare": [
        "比较一下X和Y", "X和Y哪个好", "X还是Y好", "X和Y有什么区别", "比较前两个", "第一个和第二个哪个更好",
        "X跟Y比怎么样", "X对比Y", "比较一下它们", "第一个还是第三个", "X和Y哪个更新", "X比Y好吗",
        "第二个和第三个的区别", "比较这两个", "我该买X还是Y", "X和Y有什么不同",
    ],
    "faq": [
        "退货政策是什么", "发货要多久", "我可以取消订单吗", "你们发国际快递吗", "怎么退货", "支持哪些付款方式",
        "有保修吗", "怎么查物流", "怎么联系客服", "能改收货地址吗", "可以退款吗", "我的订单什么时候到",
        "运费多少", "附近有门店吗", "能用支付宝吗", "营业时间是什么时候", "怎么重置密码", "我的数据安全吗",
        "你们保价吗", "怎么换货", "收到的东西坏了怎么办", "有礼品卡吗", "订阅怎么收费", "怎么取消订阅", "包邮吗",
    ],
    "smalltalk": [
        "你好", "您好", "嗨", "早上好", "谢谢", "多谢", "非常感谢", "你好吗", "你是谁", "你能做什么", "再见", "拜拜",
        "好的", "不错", "太棒了", "你真有用", "晚上好", "你叫什么名字", "回头见", "好的谢谢",
    ],
    "out_of_scope": [
        "明天天气怎么样", "谁赢了选举", "给我写一首诗", "讲个笑话", "法国的首都是哪里", "帮我解这个方程",
        "把这句话翻译成德语", "东京现在几点", "帮我订机票", "意大利面怎么做", "今天有什么新闻", "帮我写作业",
        "总统是谁", "放首歌", "比特币多少钱", "帮我写段代码", "人生的意义是什么", "定一个七点的闹钟", "珠峰有多高",
        "帮我叫个外卖", "15乘以23等于多少", "给我一些医疗建议", "谁会赢世界杯",
    ],
}
