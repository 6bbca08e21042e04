"""RFM, lifecycle, segments, audiences, tags, churn and CLV models."""
