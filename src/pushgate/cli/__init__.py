"""pushgate.cli"""
