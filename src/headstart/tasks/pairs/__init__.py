"""tasks/pairs"""
