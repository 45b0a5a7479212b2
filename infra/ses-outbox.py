#!/usr/bin/env python3
"""What SES sent, read back from moto (the local AWS): the newest email to one address.

    ses-outbox.py TO [--subject TEXT] [--link] [--count]

Prints the email as its recipient reads it (To, Subject, the body's visible text); with --link only
the "Keep my license" link in it; with --count the number of emails to TO (0 is not an error).
Exits 1 when there is no such email. moto keeps every SendEmail in GET /moto-api/data.json under
ses -> Message (`body` is the HTML part).
"""
import argparse
import html
import html.parser
import json
import os
import re
import sys
import urllib.request


class Text(html.parser.HTMLParser):
    BLOCKS = {"p", "div", "h1", "h2", "h3", "li", "br", "tr", "pre", "table", "ul"}

    def __init__(self):
        super().__init__()
        self.out = [""]
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag == "pre":
            self.pre += 1
        if tag in ("style", "script", "title"):
            self.skip += 1
        if tag in self.BLOCKS:
            self.out.append("")
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.out[-1] += f" <{href}> "

    def handle_endtag(self, tag):
        if tag == "pre":
            self.pre -= 1
        if tag in ("style", "script", "title"):
            self.skip -= 1
        if tag in self.BLOCKS:
            self.out.append("")

    def handle_data(self, data):
        if self.skip:
            return
        if self.pre:
            # preformatted text (the digest): its lines and indentation are the layout
            first, *rest = data.split("\n")
            self.out[-1] += first
            self.out.extend(rest)
        else:
            self.out[-1] += data


def messages(endpoint):
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=30) as r:
        data = json.load(r)
    sent = data.get("ses", {}).get("Message", {})
    # keyed by message id (in send order); a list in some moto versions
    return list(sent.values()) if isinstance(sent, dict) else list(sent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("to")
    ap.add_argument("--subject", default="")
    ap.add_argument("--link", action="store_true")
    ap.add_argument("--count", action="store_true")
    a = ap.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or sys.exit("AWS_ENDPOINT_URL is not set (moto)")
    mine = [
        m
        for m in messages(endpoint)
        if a.to in (m.get("destinations") or {}).get("ToAddresses", [])
        and a.subject in (m.get("subject") or "")
    ]
    if a.count:
        print(len(mine))
        return
    if not mine:
        print(f"ses-outbox: no email to {a.to}", file=sys.stderr)
        sys.exit(1)
    m = mine[-1]
    body = m.get("body") or ""
    if a.link:
        found = re.search(r'href="([^"]*/keep\?t=[^"]*)"', body)
        if not found:
            print(f"ses-outbox: the email to {a.to} has no keep link", file=sys.stderr)
            sys.exit(1)
        print(html.unescape(found.group(1)))
        return
    t = Text()
    t.feed(body)
    t.close()
    print(f"To: {', '.join(m['destinations']['ToAddresses'])}")
    print(f"From: {m.get('source', '')}")
    print(f"Subject: {m.get('subject', '')}")
    print()
    for line in t.out:
        line = line.rstrip() if line.startswith("  ") else re.sub(r"\s+", " ", line).strip()
        if line.strip():
            print(line)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        # the reader had enough (`| head`): not an error; keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
