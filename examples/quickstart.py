"""headstart from Python: fit, predict, score, save, load (run from the repository root)."""

from pathlib import Path

import pandas as pd

from headstart import HeadstartClassifier

HERE = Path(__file__).parent
train = pd.read_csv(HERE / "sms_spam_500.csv", keep_default_na=False)
test = pd.read_csv(HERE / "sms_spam_test_200.csv", keep_default_na=False)

clf = HeadstartClassifier(strategy="features", max_length=64).fit(train)  # a DataFrame with text, label
print("test accuracy:", round(clf.score(test), 3))
print(clf.predict(["WINNER!! Claim your free prize now", "See you at lunch tomorrow?"]))
clf.save("runs/quickstart-model")
again = HeadstartClassifier.load("runs/quickstart-model")
print(again.predict_proba(["WINNER!! Claim your free prize now"]).round(3))
