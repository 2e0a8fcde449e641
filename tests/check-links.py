"""check-links.py: every relative link in the repository's Markdown files resolves.

    /usr/bin/python3 tests/check-links.py [REPOSITORY]      (default: the folder above tests/)

For each Markdown file that git tracks (README.md, docs/*.md, bench/README.md, ...), each link
[text](target), image ![alt](target) and reference definition [label]: target whose target is
relative (no scheme such as https: or mailto:) must name a file or folder that exists inside
the repository; a #anchor into a Markdown file (or into the same file) must name one of that
file's headings, slugged as GitHub does ("## Design: threads, locks" -> #design-threads-locks,
a repeated heading -> -1, -2 ...). Links inside code (fenced blocks and `spans`) are text, not
links. Prints each broken link as FILE:LINE: target: why, and exits 1 if there is any.

Before the repository it checks itself on a small tree it writes, with one good and three
broken links, so that a checker that can no longer fail fails too.
"""
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(path):
    """Yield (line number, text) of the lines outside fenced code blocks."""
    in_fence = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m:
                if in_fence is None:
                    in_fence = m.group(1)
                elif m.group(1) == in_fence:
                    in_fence = None
                continue
            if in_fence is None:
                yield number, line.rstrip("\n")


def slug(heading):
    """The anchor GitHub gives a heading: its text without markup, lowercased, punctuation
    other than '-' and '_' dropped, spaces made hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text stays
    text = re.sub(r"\*+", "", text)  # emphasis markers
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor of a Markdown file: its headings' slugs (repeats numbered) and HTML anchors."""
    found, seen = set(), {}
    for _, line in prose_lines(path):
        m = ATX_HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(path):
    """Yield (line number, target) of every link in a Markdown file."""
    for number, line in prose_lines(path):
        m = REFERENCE.match(line)
        if m:
            yield number, m.group(1)
            continue
        for m in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, m.group(1)


def broken_links(root, files):
    """Return 'FILE:LINE: target: why' for each broken relative link of files (paths under root)."""
    root = os.path.realpath(root)
    cache = {}
    problems = []
    for rel in files:
        source = os.path.join(root, rel)
        for number, target in links(source):
            if not target or SCHEME.match(target):
                continue  # an empty target, or a URL: not a file of the repository
            path_part, _, anchor = target.partition("#")
            path_part = urllib.parse.unquote(path_part)
            resolved = os.path.realpath(os.path.join(os.path.dirname(source), path_part)) if path_part else source
            why = None
            if resolved != root and not resolved.startswith(root + os.sep):
                why = "leaves the repository"
            elif not os.path.exists(resolved):
                why = "no such file or folder"
            elif anchor and resolved.endswith(".md") and os.path.isfile(resolved):
                if resolved not in cache:
                    cache[resolved] = anchors(resolved)
                if urllib.parse.unquote(anchor) not in cache[resolved]:
                    why = f"no heading with anchor '#{anchor}' in {os.path.relpath(resolved, root)}"
            if why:
                problems.append(f"{rel}:{number}: {target}: {why}")
    return problems


def tracked_markdown(root):
    """The Markdown files git tracks under root, as paths relative to it."""
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "*.md"], check=True, capture_output=True)
    return sorted(p for p in out.stdout.decode("utf-8").split("\0") if p)


def self_test():
    """The checker must accept a good link and report each kind of broken one."""
    with tempfile.TemporaryDirectory() as tree:
        os.mkdir(os.path.join(tree, "docs"))
        with open(os.path.join(tree, "docs", "GUIDE.md"), "w", encoding="utf-8") as f:
            f.write("# Guide\n\n## Design: threads, `locks`\n")
        with open(os.path.join(tree, "README.md"), "w", encoding="utf-8") as f:
            f.write("[good](docs/GUIDE.md#design-threads-locks) and [web](https://example.org/x.md)\n"
                    "`[in code](nowhere.md)`\n"
                    "```\n[in a fence](nowhere.md)\n```\n"
                    "[missing](docs/NOPE.md)\n"
                    "[bad anchor](docs/GUIDE.md#design)\n"
                    "[outside](../elsewhere.md)\n")
        got = broken_links(tree, ["README.md", "docs/GUIDE.md"])
        want = ["README.md:6: docs/NOPE.md: no such file or folder",
                "README.md:7: docs/GUIDE.md#design: no heading with anchor '#design' in docs/GUIDE.md",
                "README.md:8: ../elsewhere.md: leaves the repository"]
        if got != want:
            sys.exit("check-links.py: self-test failed: reported\n  " + "\n  ".join(got) +
                     "\nexpected\n  " + "\n  ".join(want))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    self_test()
    files = tracked_markdown(root)
    problems = broken_links(root, files)
    for p in problems:
        print(p)
    total = sum(1 for f in files for _ in links(os.path.join(root, f)))
    print(f"check-links.py: {len(files)} Markdown files, {total} links, {len(problems)} broken")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
