"""MEDLINE XML that the tests write: a baseline-like file and its pieces."""
import gzip
import json
from pathlib import Path
from typing import Dict, List

from biomtl_allennlp.documents.medline_xml import format_citation

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ABSTRACTS = PROJECT_ROOT / "fixtures" / "pubmed" / "abstracts.jsonl"

STRUCTURED = """<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">100</PMID>
    <Article PubModel="Print">
      <ArticleTitle>Cisplatin-induced <i>nephrotoxicity</i> in BRCA1 carriers.</ArticleTitle>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Renal failure &amp; T&#246;xicity after cisplatin.</AbstractText>
        <AbstractText Label="METHODS">We measured H<sub>2</sub>O intake in 12 patients with Crohn’s disease.</AbstractText>
        <AbstractText Label="EMPTY"/>
      </Abstract>
    </Article>
    <OtherAbstract Type="Publisher" Language="fre"><AbstractText>Traduit.</AbstractText></OtherAbstract>
    <CommentsCorrectionsList><CommentsCorrections RefType="Cites"><PMID Version="1">999</PMID></CommentsCorrections></CommentsCorrectionsList>
  </MedlineCitation>
  <PubmedData><ArticleIdList><ArticleId IdType="pubmed">100</ArticleId></ArticleIdList></PubmedData>
</PubmedArticle>"""
TITLE_ONLY = """<PubmedArticle><MedlineCitation><PMID Version="1">101</PMID><Article><ArticleTitle>Tamoxifen and breast cancer in BRCA2 carriers.</ArticleTitle></Article></MedlineCitation></PubmedArticle>"""
BOOK = """<PubmedBookArticle><BookDocument><PMID Version="1">102</PMID><Book><BookTitle>Hereditary haemochromatosis</BookTitle></Book><Abstract><AbstractText>HFE mutations cause iron overload.</AbstractText></Abstract></BookDocument></PubmedBookArticle>"""
DELETION = """<DeleteCitation><PMID Version="1">5</PMID><PMID Version="1">6</PMID></DeleteCitation>"""


def article_set(*elements: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
        '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
        "<PubmedArticleSet>\n" + "\n".join(elements) + "\n</PubmedArticleSet>\n"
    )


def shipped_abstracts() -> List[Dict[str, str]]:
    """The 10 PubMed abstracts of fixtures/pubmed (pmid, title, abstract)."""
    with open(ABSTRACTS, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def citation(document: Dict[str, str]) -> str:
    return format_citation(document["pmid"], document["title"], document["abstract"])


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
