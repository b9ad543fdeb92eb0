"""The headless HLS player, ABR rules and the one playback-session model (buffer, stalls, QoE)."""
