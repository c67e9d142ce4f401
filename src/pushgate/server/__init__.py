"""pushgate.server"""
