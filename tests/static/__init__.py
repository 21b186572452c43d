"""The static files as browsers get them: the widget's and the console's ES modules."""
