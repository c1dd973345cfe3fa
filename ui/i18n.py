"""The customer chat's own words in English and Chinese; the language follows the customer's messages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "## FinDesk · customer help\nAsk about cards, transfers, fees, your account or the app. "
        "You can attach a screenshot of an error or record a voice message (microphone icon).",
        "placeholder": "Type your question, attach a screenshot, or record a voice message…",
        "talk": "🙋 Talk to a person",
        "voice": "🎤 voice message",
        "screenshot": "📎 screenshot attached",
        "sources": "📚 Sources ({n})",
        "details": "ℹ️ Details",
        "no_sources": "No FAQ entry was used for this reply.",
        "route": {
            "answer": "answered",
            "clarify": "needs detail",
            "no_answer": "not in FAQ",
            "handoff": "to a person",
            "small_talk": "small talk",
        },
        "mood": "mood",
        "voice_tone": "voice",
        "agitated_voice": "agitated voice",
        "too_big": "That file is too large ({size} MB; the limit is {limit} MB). Please send a smaller one.",
        "unsupported": "I can read screenshots (PNG, JPEG, WebP) and voice messages; {name} is neither.",
        "agent_says": "👤 <strong>{agent}</strong> (our team)",  # HTML: the chat shows escaped text
        "resolved": "This conversation was closed by our team. Write again any time if you need more help.",
        "person_coming": "A member of our team will reply here shortly.",
        "not_helpful": "Sorry that didn't help. Would you like to talk to a person?",
        "rate_prompt": "How did we do? Please rate this conversation (1 = poor, 5 = excellent).",
        "rate_thanks": "Thank you for your rating!",
        "rate_thanks_comment": "Thank you for your rating and your comment!",
        "rate_comment": "Anything to add? (optional, sent with your rating)",
        "rate_comment_placeholder": "Write a comment, then choose 1-5 above",
        "comment_too_long": "Your comment is too long ({n} characters; the limit is {limit}). Please shorten it and "
        "choose your rating again.",
        "unreadable": "I could not read that file; please attach it again.",
        "slow_down_chat_turn": "You are sending messages faster than we can answer: please wait {seconds} s and send "
        "it again.",
        "slow_down_handoff": "We have your request for a person already; please wait {seconds} s before asking again.",
        "session_lost": "This conversation can no longer be continued here. Please reload the page to start again.",
        "not_uploaded": "{name} was not uploaded from this browser (or it was already used); please attach it again.",
        "wrong_type": "{name} is not a kind of file accepted here (accepted: {types}).",
    },
    "zh": {
        "title": "## FinDesk · 客户服务\n可咨询银行卡、转账、费用、账户或 App 相关问题。"
        "可以附上报错截图，或点击麦克风图标发送语音。",
        "placeholder": "请输入您的问题，或附上截图、录制语音…",
        "talk": "🙋 转人工",
        "voice": "🎤 语音消息",
        "screenshot": "📎 已附截图",
        "sources": "📚 参考来源（{n}）",
        "details": "ℹ️ 详情",
        "no_sources": "本条回复未引用常见问题。",
        "route": {
            "answer": "已回答",
            "clarify": "需要补充",
            "no_answer": "未找到",
            "handoff": "转人工",
            "small_talk": "寒暄",
        },
        "mood": "情绪",
        "voice_tone": "语气",
        "agitated_voice": "语气激动",
        "too_big": "文件太大（{size} MB，上限 {limit} MB），请发送较小的文件。",
        "unsupported": "目前支持截图（PNG、JPEG、WebP）和语音消息，无法处理 {name}。",
        "agent_says": "👤 <strong>{agent}</strong>（人工客服）",
        "resolved": "客服已结束本次对话。如需更多帮助，请随时留言。",
        "person_coming": "人工客服稍后会在这里回复您。",
        "not_helpful": "抱歉没能帮到您。需要转人工客服吗？",
        "rate_prompt": "请为本次服务评分（1 = 很差，5 = 很好）。",
        "rate_thanks": "感谢您的评价！",
        "rate_thanks_comment": "感谢您的评分和留言！",
        "rate_comment": "还有什么想说的吗？（可选，与评分一起提交）",
        "rate_comment_placeholder": "先写下留言，再点击上方的 1-5 分",
        "comment_too_long": "您的留言太长（{n} 个字符，上限 {limit}）。请删减后重新选择评分。",
        "unreadable": "无法读取该文件，请重新上传。",
        "slow_down_chat_turn": "您发送消息过于频繁，请等待 {seconds} 秒后再发送。",
        "slow_down_handoff": "我们已收到您的转人工请求，请等待 {seconds} 秒后再试。",
        "session_lost": "无法继续本次对话，请刷新页面重新开始。",
        "not_uploaded": "{name} 不是从本浏览器上传的（或已使用过），请重新上传。",
        "wrong_type": "此处不接受 {name} 这类文件（可接受：{types}）。",
    },
}

MOOD_ICONS = {"negative": "🙁", "neutral": "😐", "positive": "🙂"}


def language_of(code: str | None) -> str:
    """Map any language code or Accept-Language header to one of the UI's languages."""
    return "zh" if (code or "").strip().lower().startswith("zh") else "en"


def text(language: str, key: str) -> str:
    return TEXT[language_of(language)][key]  # type: ignore[return-value]


def route_label(language: str, route: str) -> str:
    return TEXT[language_of(language)]["route"].get(route, route)  # type: ignore[union-attr]
