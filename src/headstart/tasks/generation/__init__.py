"""tasks/generation"""
