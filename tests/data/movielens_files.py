"""Small files shaped like MovieLens latest-small: ratings.csv (userId,movieId,rating,timestamp; half stars 0.5-5)
and movies.csv (movieId,title,genres; genres joined by |, quoted titles with commas), plus a year column with NA."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GENRES = ["Adventure|Animation|Children|Comedy|Fantasy", "Comedy|Romance", "Horror", "Drama|Thriller",
          "Action|Sci-Fi|Thriller", "Drama", "Comedy|Drama|Romance", "Horror|Mystery"]
HALF_STARS = np.arange(1, 11) / 2  # 0.5 .. 5.0


def write_movielens(folder: Path, n_users: int = 60, n_movies: int = 40, per_user: int = 12) -> dict[str, Path]:
    """Two taste communities (movies 1-20 and 21-40) rated high; a few low ratings of the other community's
    movies. Returns the paths of ratings.csv and movies.csv."""
    rng = np.random.default_rng(0)
    lines = ["userId,movieId,rating,timestamp"]
    for u in range(1, n_users + 1):
        mine = np.arange(1, n_movies // 2 + 1) + (0 if u <= n_users // 2 else n_movies // 2)
        others = np.setdiff1d(np.arange(1, n_movies + 1), mine)
        for m in rng.choice(mine, size=per_user - 2, replace=False):
            lines.append(f"{u},{m},{rng.choice(HALF_STARS[5:])},{964982703 + int(rng.integers(0, 10**6))}")
        for m in rng.choice(others, size=2, replace=False):  # disliked: 0.5 to 2.5 stars
            lines.append(f"{u},{m},{rng.choice(HALF_STARS[:5])},{964982703 + int(rng.integers(0, 10**6))}")
    ratings = folder / "ratings.csv"
    ratings.write_text("\n".join(lines) + "\n")
    movies = folder / "movies.csv"
    rows = ["movieId,title,genres,year"]
    for m in range(1, n_movies + 1):
        year = ("NA", "N/A", "null", "")[m % 4] if m % 9 == 0 else str(1980 + m)
        rows.append(f'{m},"Movie {m}, The ({1980 + m})",{GENRES[m % len(GENRES)]},{year}')
    movies.write_text("\n".join(rows) + "\n")
    return {"ratings": ratings, "movies": movies}
