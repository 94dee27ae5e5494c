#!/bin/sh
# Puts real sample photos in a cache folder and prints its path. They come
# from two Debian packages, downloaded and unpacked without installing them
# (so none of their dependencies are pulled in):
#   python3-skimage             astronaut, chelsea the cat, coffee, motorcycles,
#                               rocket, ... (scikit-image's sample data)
#   plasma-workspace-wallpapers lake, boats, kite, cups, ... (KDE wallpapers)
# The folder: $CAPSEARCH_SAMPLES, else ${XDG_CACHE_HOME:-~/.cache}/capsearch/samples.
set -eu
out=${CAPSEARCH_SAMPLES:-${XDG_CACHE_HOME:-$HOME/.cache}/capsearch/samples}
if [ -f "$out/.complete" ]; then
    echo "$out"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt downloads as the unprivileged _apt user when it can write the folder.
[ "$(id -u)" = 0 ] && chmod 0777 "$work"
download() {
    (cd "$work" && apt-get download -q python3-skimage plasma-workspace-wallpapers >&2)
}
if ! download; then
    # No package lists yet (a fresh container): fetch them, then try again.
    if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2; else sudo apt-get update -qq >&2; fi
    download
fi
for deb in "$work"/*.deb; do
    dpkg-deb -x "$deb" "$work/x"
done
mkdir -p "$out/photos" "$out/wallpapers" "$out/known-bad"

data="$work/x/usr/lib/python3/dist-packages/skimage/data"
for name in astronaut.png chelsea.png coffee.png motorcycle_left.png motorcycle_right.png \
            rocket.jpg hubble_deep_field.jpg retina.jpg camera.png page.png text.png \
            coins.png moon.png brick.png grass.png gravel.png horse.png logo.png ihc.png \
            cell.png clock_motion.png no_time_for_that_tiny.gif; do
    cp "$data/$name" "$out/photos/$name"
done
# A JPEG that is cut short on purpose, kept apart from the photos.
cp "$data/truncated.jpg" "$out/known-bad/truncated.jpg"

# One picture per wallpaper: its largest real file (many sizes are symlinks).
for dir in "$work"/x/usr/share/wallpapers/*/; do
    name=$(basename "$dir")
    best=$(find "$dir/contents/images" -maxdepth 1 -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
    [ -n "$best" ] || continue
    cp "$best" "$out/wallpapers/$name.${best##*.}"
done
touch "$out/.complete"
echo "$out"
