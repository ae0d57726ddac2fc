"""tasks/extractive_qa"""
