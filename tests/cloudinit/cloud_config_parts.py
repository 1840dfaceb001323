#!/usr/bin/env python3
"""Writes the cloud-config parts of a user-data file to OUTDIR, one file
each, and prints their paths, one a line.

A MIME multipart archive is split with Python's email parser, as cloud-init
itself reads user-data; a plain "#cloud-config" document is one part. Other
parts (shell scripts, boothooks) are not cloud-config and are left out.
"""
import email
import os
import sys


def cloud_config_parts(text):
    if not text.startswith(("Content-Type:", "MIME-Version:")):
        return [text] if text.startswith("#cloud-config") else []
    message = email.message_from_string(text)
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() == "text/cloud-config":
            parts.append(part.get_payload(decode=True).decode("utf-8"))
    return parts


def main():
    user_data, outdir = sys.argv[1], sys.argv[2]
    with open(user_data, encoding="utf-8") as f:
        parts = cloud_config_parts(f.read())
    for i, part in enumerate(parts):
        path = os.path.join(outdir, f"cloud-config-{i}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(part)
        print(path)


if __name__ == "__main__":
    main()
