from ragline.cli.main import app

app()
