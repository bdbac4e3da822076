#!/usr/bin/env bash
# Installs what a running pod needs on Debian, only if it is missing:
# ffmpeg (ffprobe and ffmpeg probe and transcode uploads; without them a
# pod accepts only MP4, WebM and Ogg files as they are). `make run` calls
# it; elsewhere, or without apt and root, it says what to install and the
# pod starts anyway.
set -euo pipefail
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
	exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
	echo "installing ffmpeg (Debian package) for probing and transcoding uploads"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null 2>&1 || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; }
elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
	echo "installing ffmpeg (Debian package) for probing and transcoding uploads"
	sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null 2>&1 || { sudo apt-get update >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; }
else
	echo "ffmpeg is not installed: the pod will accept only MP4, WebM and Ogg files, untranscoded (install ffmpeg to change that)" >&2
fi
