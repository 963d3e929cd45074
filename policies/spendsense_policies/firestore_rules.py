"""Firestore security rules as the pack reads them: tokens, functions, `match` paths, and
whether an `allow` condition *requires* a signed-in user.

Owns the rules-language reading behind gcp-firestore-rules-no-open-access (the policy itself
is in `firestore.py`). The reading is an allow-list, decided on the condition's structure:

- a condition is acceptable when each top-level `||` alternative requires a signed-in user
  (or is `false`); mentioning `request.auth` is not enough (`request.auth == null` is the
  signed-out case);
- an alternative requires one when one of its top-level `&&` terms does: `request.auth !=
  null`, `!(request.auth == null)`, a term that reads a field of `request.auth`
  (`request.auth.uid == uid`: reading a field of null is an error, and an error denies), or
  a call to a function whose every definition returns such a condition;
- a term that holds `||` or `?:` inside is judged only as a whole group (`(a || b)` requires
  a user when both sides do); anything else (`true`, a time limit, `f() == false`) does not.

The language: https://firebase.google.com/docs/rules/rules-language (error semantics:
https://firebase.google.com/docs/rules/rules-language#error_handling).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)
      |(?P<string>'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")
      |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<number>\d+(?:\.\d+)?)
      |(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!=(){}\[\],.;:?])
      |(?P<space>\s+)
      |(?P<other>.)""",
    re.DOTALL | re.VERBOSE,
)


class Token:
    __slots__ = ("line", "text")

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line

    def __repr__(self) -> str:
        return f"{self.text}@{self.line}"


def tokenize(text: str) -> list[Token]:
    """The rules language's tokens: string literals whole (a `//` or `;` inside quotes is part
    of the string), comments and whitespace dropped, each token with its line number."""
    tokens: list[Token] = []
    line = 1
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group(0)
        if kind not in ("comment", "space"):
            tokens.append(Token(value, line))
        line += value.count("\n")
    return tokens


def words(tokens: Sequence[Token]) -> list[str]:
    return [t.text for t in tokens]


_OPEN, _CLOSE = set("([{"), set(")]}")


def split_top(tokens: Sequence[Token], operator: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text in _OPEN:
            depth += 1
        elif token.text in _CLOSE:
            depth -= 1
        elif depth == 0 and token.text == operator:
            parts.append([])
            continue
        parts[-1].append(token)
    return [unwrap(part) for part in parts]


def unwrap(tokens: list[Token]) -> list[Token]:
    while len(tokens) >= 2 and tokens[0].text == "(" and tokens[-1].text == ")":
        depth = 0
        for i, token in enumerate(tokens):
            depth += {"(": 1, ")": -1}.get(token.text, 0)
            if depth == 0 and i < len(tokens) - 1:
                return tokens  # "(a) && (b)": the first ")" closes before the end
        tokens = tokens[1:-1]
    return tokens


def functions(tokens: Sequence[Token]) -> dict[str, list[list[Token]]]:
    """Each `function name(...) { ... return expr; }`: the returned expression's tokens (every
    definition of a name; a body without `return`, or a function with a parameter named
    `request`, gives an empty expression, which requires nothing)."""
    found: dict[str, list[list[Token]]] = {}
    i = 0
    while i < len(tokens) - 1:
        if tokens[i].text == "function" and tokens[i + 1].text[:1].isalpha():
            name, j = tokens[i + 1].text, i + 2
            while j < len(tokens) and tokens[j].text != "{":
                j += 1
            depth, body_start = 0, j + 1
            while j < len(tokens):
                depth += {"{": 1, "}": -1}.get(tokens[j].text, 0)
                if depth == 0:
                    break
                j += 1
            params = words(tokens[i + 2 : body_start - 1])
            # A parameter (or a `let`) named `request` hides the real one: `f({'auth': 1})` proves
            # nothing.
            texts = words(tokens[body_start:j])
            rebinds = any(texts[k : k + 2] == ["let", "request"] for k in range(len(texts)))
            body = [] if "request" in params or rebinds else _returned(tokens[body_start:j])
            found.setdefault(name, []).append(body)
            i = j
        i += 1
    return found


def _returned(body: Sequence[Token]) -> list[Token]:
    texts = words(body)
    if "return" not in texts:
        return []
    start = len(texts) - 1 - texts[::-1].index("return") + 1
    expression, depth = [], 0
    for token in body[start:]:
        if token.text in _OPEN:
            depth += 1
        elif token.text in _CLOSE:
            depth -= 1
        elif token.text == ";" and depth == 0:
            break
        expression.append(token)
    return expression


def _is(texts: list[str], *forms: list[str]) -> bool:
    return any(texts == form for form in forms)


_AUTH = ["request", ".", "auth"]


class AuthReader:
    """Decides whether conditions require a signed-in user, given the file's functions."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self._functions = functions(tokens)
        self._memo: dict[str, bool] = {}

    def function_requires(self, name: str) -> bool:
        if name not in self._memo:
            self._memo[name] = False  # a recursive definition proves nothing
            bodies = self._functions.get(name, [])
            self._memo[name] = bool(bodies) and all(self.requires(b) for b in bodies)
        return self._memo[name]

    def requires(self, condition: Sequence[Token]) -> bool:
        tokens = unwrap(list(condition))
        alternatives = split_top(tokens, "||")
        if len(alternatives) > 1:
            return all(self.requires(a) for a in alternatives)
        terms = split_top(tokens, "&&")
        if len(terms) > 1:
            return any(self.requires(t) for t in terms)
        return self._term_requires(tokens)

    def _term_requires(self, term: list[Token]) -> bool:
        texts = words(term)
        if texts == ["false"]:
            return True  # never true: grants nothing
        signed_in = ([*_AUTH, "!=", "null"], ["null", "!=", *_AUTH])
        if _is(texts, *signed_in):
            return True
        if texts[:1] == ["!"]:
            inner = words(unwrap(term[1:]))
            return _is(inner, [*_AUTH, "==", "null"], ["null", "==", *_AUTH]) or (
                self._reads_auth_field(unwrap(term[1:]))
            )
        if "?" in texts or "||" in texts:
            return False  # a choice inside: only a whole group (handled above) is judged
        if self._reads_auth_field(term):
            return True
        # `name(args)` or `name(args) == true`: the function decides.
        if len(texts) >= 3 and texts[1] == "(" and texts[0][:1].isalpha():
            depth, end = 0, 1
            for end in range(1, len(texts)):
                depth += {"(": 1, ")": -1}.get(texts[end], 0)
                if depth == 0:
                    break
            rest = texts[end + 1 :]
            if rest in ([], ["==", "true"]):
                return self.function_requires(texts[0])
        return False

    @staticmethod
    def _reads_auth_field(term: Sequence[Token]) -> bool:
        """`request.auth.<field>` anywhere in a term with no choice inside: on a signed-out
        request it reads a field of null, an error, and the condition denies."""
        texts = words(term)
        if "?" in texts or "||" in texts:
            return False
        return any(
            texts[i : i + 4] == [*_AUTH, "."] and texts[i - 1 : i] != ["."]
            for i in range(len(texts) - 3)
        )

    def identifies(self, condition: Sequence[Token], seen: frozenset[str] = frozenset()) -> bool:
        """Does the condition look at *who* the user is (their uid or a claim compared with a
        value), directly or through a function, rather than only that someone signed in?
        `request.auth.uid != null` or `request.auth.uid == request.auth.uid` does not."""
        tokens = unwrap(list(condition))
        alternatives = split_top(tokens, "||")
        if len(alternatives) > 1:
            return all(self.identifies(a, seen) for a in alternatives)
        terms = split_top(tokens, "&&")
        if len(terms) > 1:
            return any(self.identifies(t, seen) for t in terms)
        texts = words(tokens)
        if len(texts) >= 3 and texts[1] == "(" and texts[0][:1].isalpha() and texts[-1] == ")":
            bodies = self._functions.get(texts[0], [])
            name = texts[0]
            return (
                name not in seen
                and bool(bodies)
                and all(self.identifies(body, seen | {name}) for body in bodies)
            )
        return self._compares_identity(texts)

    @staticmethod
    def _compares_identity(texts: list[str]) -> bool:
        if not any(texts[i : i + 4] == [*_AUTH, "."] for i in range(len(texts) - 3)):
            return False
        if "null" in texts or "?" in texts or "!=" in texts:
            return False
        for operator in ("==", "in"):
            if operator in texts:
                at = texts.index(operator)
                left, right = texts[:at], texts[at + 1 :]
                return bool(left) and bool(right) and left != right
        return False


@dataclass
class Allow:
    line: int
    methods: list[str]
    condition: list[Token] | None
    recursive: bool  # under a `match` with a recursive wildcard ({name=**})


def _match_path(tokens: Sequence[Token], j: int) -> tuple[bool, int]:
    """(has a recursive wildcard, index of the block's `{`) for the path starting at j."""
    recursive = False
    while j < len(tokens):
        text = tokens[j].text
        if text == "{":
            nxt = [t.text for t in tokens[j + 1 : j + 3]]
            if len(nxt) == 2 and nxt[0][:1].isalpha() and nxt[1] in ("}", "="):
                close = j + 1
                while close < len(tokens) and tokens[close].text != "}":
                    close += 1
                recursive |= "*" in words(tokens[j:close])
                j = close + 1
                continue
            return recursive, j
        j += 1
    return recursive, j


def allows(tokens: Sequence[Token]) -> Iterator[Allow]:
    """Every `allow` statement with its methods, condition, and whether a recursive wildcard
    `match` encloses it."""
    stack: list[bool] = []  # per open brace: is it (inside) a recursive match block?
    i = 0
    while i < len(tokens):
        text = tokens[i].text
        if text == "match":
            recursive, block = _match_path(tokens, i + 1)
            stack.append(recursive or (bool(stack) and stack[-1]))
            i = block + 1
            continue
        if text == "{":
            stack.append(bool(stack) and stack[-1])
        elif text == "}":
            if stack:
                stack.pop()
        elif text == "allow":
            allow, i = _read_allow(tokens, i, bool(stack) and stack[-1])
            yield allow
            continue
        i += 1


def _read_allow(tokens: Sequence[Token], i: int, recursive: bool) -> tuple[Allow, int]:
    start, j = tokens[i], i + 1
    methods: list[str] = []
    while j < len(tokens) and tokens[j].text not in (":", ";", "}"):
        if tokens[j].text != ",":
            methods.append(tokens[j].text)
        j += 1
    condition: list[Token] | None = None
    if j < len(tokens) and tokens[j].text == ":":
        j += 1
        if j < len(tokens) and tokens[j].text == "if":
            j += 1
        condition, depth = [], 0
        while j < len(tokens):
            text = tokens[j].text
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                if depth == 0:
                    break  # a missing ";" before the block's end
                depth -= 1
            elif text == ";" and depth == 0:
                break
            condition.append(tokens[j])
            j += 1
    if j < len(tokens) and tokens[j].text == ";":
        j += 1
    return Allow(start.line, methods, condition, recursive), j


def _alternative_problem(alternative: list[Token], reader: AuthReader) -> str | None:
    if reader.requires(alternative):
        return None
    texts = words(alternative)
    if texts == ["true"]:
        return "is `if true`"
    if "request" in texts and "time" in texts and "auth" not in texts:
        return "is only a time limit (the test-mode leftover)"
    return f"has an alternative that does not require request.auth (`{' '.join(texts)}`)"


def open_reason(condition: Sequence[Token] | None, reader: AuthReader) -> str | None:
    """Why an `allow` condition may grant access to a signed-out user, or None."""
    if condition is None:
        return "has no condition"
    alternatives = split_top(unwrap(list(condition)), "||")
    found = [r for r in (_alternative_problem(a, reader) for a in alternatives) if r]
    if not found:
        return None
    for preferred in ("is `if true`", "is only a time limit (the test-mode leftover)"):
        if preferred in found:
            return preferred
    return found[0]


def anyone_signed_in(allow: Allow, reader: AuthReader) -> bool:
    """An allow under a recursive wildcard that any signed-in user meets (no `false`, no look
    at who the user is): everyone who can sign up reaches every document below it."""
    if not allow.recursive or allow.condition is None:
        return False
    alternatives = split_top(unwrap(list(allow.condition)), "||")
    return any(words(a) != ["false"] and not reader.identifies(a) for a in alternatives)


def declares_version_2(tokens: Sequence[Token]) -> bool:
    texts = words(tokens)
    return any(
        texts[i : i + 2] == ["rules_version", "="] and texts[i + 2] in ("'2'", '"2"')
        for i in range(len(texts) - 2)
    )


def problems(content: str, filename: str) -> Iterator[str]:
    """Every reason `content` lets a signed-out user in, or everyone who can sign up into
    every document."""
    tokens = tokenize(content)
    if not declares_version_2(tokens):
        yield (
            f"{filename} does not declare rules_version = '2'; version 1 rules treat recursive "
            "wildcards differently: start the file with rules_version = '2';"
        )
    reader = AuthReader(tokens)
    for allow in allows(tokens):
        methods = ", ".join(allow.methods)
        reason = open_reason(allow.condition, reader)
        if reason:
            yield (
                f"{filename} line {allow.line}: `allow {methods}` {reason}, so anyone on the "
                "internet can use it; require request.auth (and the user's own documents or a role)"
            )
        elif anyone_signed_in(allow, reader):
            yield (
                f"{filename} line {allow.line}: `allow {methods}` under a recursive wildcard "
                "({document=**}) lets anyone who can sign up reach every document below it; "
                "the access model gives users their own documents and operators a role: "
                "check request.auth.uid or a role claim"
            )
