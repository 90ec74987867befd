"""Member sign-in without a password: single-use links (links, rules, views) and the
device cookie that keeps a known browser from being locked out by strangers (device)."""
