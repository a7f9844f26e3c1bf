"""Query stop words per language: words a keyword query leaves out (unless nothing else is
left). Small on purpose: PostgreSQL's text-search configurations drop their own, longer lists
from both documents and queries; SQLite indexes every word and relies on these alone."""

from __future__ import annotations

ENGLISH = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its "
    "me my no not of on or our so such that the their them then there these they this to was "
    "we were what when where which who why will with you your".split()
)
GERMAN = frozenset(
    "aber als am an auch auf aus bei bin bis bist da damit dann das dass dein deine dem den "
    "der des die dies diese dieser dieses du durch ein eine einem einen einer eines er es "
    "euer eure für hat hatte hier ich ihr ihre im in ist ja kann man mein meine mich mir mit "
    "nach nicht noch nur ob oder sein seine sich sie sind so über um und uns unser vom von "
    "vor war warum was weil welche welcher welches wenn wer wie wir wird wo wurde zu zum "
    "zur".split()
)
FRENCH = frozenset(
    "a au aux avec c ce ces cette comment d dans de des du elle en est et eu il ils j je l la "
    "le les leur lui m ma mais me mes moi mon n ne nos notre nous on ou où par pas pour qu que "
    "qui quoi s sa se ses son sont sur t ta te tes toi ton tu un une vos votre vous y".split()
)
SPANISH = frozenset(
    "a al como con cual cuando de del donde el ella ellos en es esta este esto fue ha hay la "
    "las le les lo los me mi mis muy más no nos o para pero por porque que qué se si sin "
    "sobre son su sus te tu tus un una uno unos y ya yo cómo dónde cuál".split()
)
