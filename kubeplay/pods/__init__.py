"""The only composer: play, down, stop, start, rm, logs, exec."""
