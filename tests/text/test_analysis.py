from fathom.text.analysis import (
    ChineseAnalyzer,
    EnglishAnalyzer,
    MixedAnalyzer,
    choose_analyzer,
    cjk_share,
    get_analyzer,
    resolve_analyzer,
)


def test_english_lowercases_removes_stopwords_and_stems():
    assert EnglishAnalyzer()("The Running of the Proteins, and Studies!") == ["run", "protein", "studi"]


def test_english_drops_single_characters():
    assert EnglishAnalyzer()("a b cd") == ["cd"]


def test_chinese_search_mode_segmentation_without_punctuation():
    tokens = ChineseAnalyzer()("中华人民共和国成立了。")
    assert "中华" in tokens and "人民" in tokens and "共和国" in tokens and "中华人民共和国" in tokens
    assert "。" not in tokens


def test_mixed_routes_runs_to_each_chain():
    tokens = MixedAnalyzer()("Running 北京大学 students")
    assert tokens[0] == "run" and tokens[-1] == "student"
    assert "北京" in tokens and "大学" in tokens


def test_cjk_share_and_choice():
    assert cjk_share("hello") == 0.0
    assert cjk_share("北京") == 1.0
    assert abs(cjk_share("ab北京") - 0.5) < 1e-9
    assert choose_analyzer(["plain English text"]) == "english"
    assert choose_analyzer(["完全是中文的句子"]) == "chinese"
    assert choose_analyzer(["half English 一半中文"]) == "mixed"
    assert resolve_analyzer("auto", ["北京欢迎你"]) == "chinese"
    assert resolve_analyzer("english", ["北京欢迎你"]) == "english"
    assert get_analyzer("mixed").name == "mixed"
