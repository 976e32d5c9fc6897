def switcher(request):
    return {}
