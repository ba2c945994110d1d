"""The operators' web dashboard over the review history and the weekly digests."""
