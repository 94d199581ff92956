"""Whale intelligence: Etherscan discovery, features, classifier, flow signal."""
