"""pushgate.reporter"""
