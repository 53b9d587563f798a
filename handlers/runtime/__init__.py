"""What FastStream does not give: leases, recovery of pending entries, dead letters, lag."""
