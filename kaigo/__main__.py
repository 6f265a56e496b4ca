from kaigo.cli import app

app()
