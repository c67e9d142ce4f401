"""pushgate.core"""
