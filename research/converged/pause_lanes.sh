#!/usr/bin/env bash
# Pause (STOP) or resume (CONT) the converged runs' `allennlp train` processes, e.g. while a
# benchmark needs the machine alone:  research/converged/pause_lanes.sh STOP|CONT
set -u
pkill "-$1" -f "allennlp train" && echo "$1 sent to: $(pgrep -f 'allennlp train' | tr '\n' ' ')"
