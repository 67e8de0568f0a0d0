"""The Python code blocks of the trainer integration guide, found in its text as it is published
(a page's text, with no markup around its code): runs of lines that look like code, each trimmed
until it compiles. The guide itself is not copied here: it is read from where it lives."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import List

#: Where the guide is read from; METHODIC_GUIDE names another copy.
DEFAULT_GUIDE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "trainer-integrations-guide.txt"

_CODE_START = re.compile(
    r"^(\s+\S|import |from \S+ import |def |class |if |for |while |with |try:|#|[\])}]|"
    r"[A-Za-z_][\w.]*(\[[^\]]*\])?\s*(=|\())"
)


def guide_path() -> Path:
    return Path(os.environ.get("METHODIC_GUIDE") or DEFAULT_GUIDE)


def _compiles(lines: List[str]) -> bool:
    try:
        ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return True


def code_blocks(text: str) -> List[str]:
    """Every block of Python in the guide's text, in order."""
    lines = text.expandtabs(4).splitlines()
    blocks: List[str] = []
    i = 0
    while i < len(lines):
        if not _CODE_START.match(lines[i]):
            i += 1
            continue
        # The longest run from here that compiles and has a statement; prose stops it.
        j = i
        while j < len(lines) and (lines[j].strip() == "" or _CODE_START.match(lines[j])):
            j += 1
        end = j
        while end > i and not (_compiles(lines[i:end]) and _has_statement(lines[i:end])):
            end -= 1
        if end == i:
            i += 1
            continue
        block = "\n".join(lines[i:end]).strip("\n")
        # A sentence that happens to parse (a call, say, followed by words) is not code.
        if _looks_like_code(block):
            blocks.append(block)
        i = end
    return blocks


def _has_statement(lines: List[str]) -> bool:
    try:
        return len(ast.parse("\n".join(lines)).body) > 0
    except SyntaxError:
        return False


def _looks_like_code(block: str) -> bool:
    tree = ast.parse(block)
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and not isinstance(tree.body[0].value, ast.Call):
        return False
    return True
