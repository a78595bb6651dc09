#!/bin/sh
# Regenerates the PDF shape corpus in this folder. Needs python3, qpdf and poppler-utils (pdftocairo).
# Every file is small; the large incompressible file is made at test time (signing/pades tests).
set -eu
cd "$(dirname "$0")"
q() { qpdf "$@" || [ $? -eq 3 ]; }   # exit 3 = warnings only
python3 raw.py base base.pdf
python3 raw.py emptyfield emptyfield.pdf
python3 raw.py hybrid hybrid.pdf
q --object-streams=disable base.pdf classic.pdf
q --object-streams=generate base.pdf objstm.pdf
q --linearize base.pdf linearized.pdf
q --linearize --object-streams=generate base.pdf linearized-objstm.pdf
q --qdf base.pdf qdf.pdf
q --force-version=1.3 --object-streams=disable base.pdf v13.pdf
q --force-version=2.0 --object-streams=generate base.pdf v20.pdf
q --object-streams=generate emptyfield.pdf emptyfield-objstm.pdf
pdftocairo -pdf base.pdf cairo.pdf
q --rotate=+90 base.pdf rotated90.pdf
q --rotate=+270 --object-streams=generate base.pdf rotated270.pdf
