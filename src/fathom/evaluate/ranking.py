"""Full-ranking evaluation (placeholder signature; implemented in this module)."""
