"""Knowledge-base features over the stored items: the experience bank, classification, similar projects."""
