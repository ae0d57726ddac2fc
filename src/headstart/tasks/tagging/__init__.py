"""tasks/tagging"""
