import type Database from 'better-sqlite3';

/**
 * Versioned schema migrations of the project index; PRAGMA user_version holds the applied version.
 * Append new steps; never edit a released one.
 */
export const migrations: ReadonlyArray<(db: Database.Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE frames (
        side TEXT NOT NULL CHECK (side IN ('a','b')),
        idx INTEGER NOT NULL,
        time REAL NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        thumbnail TEXT,
        face_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (side, idx)
      ) WITHOUT ROWID;
      CREATE TABLE tracks (
        side TEXT NOT NULL,
        id INTEGER NOT NULL,
        first_frame INTEGER NOT NULL,
        last_frame INTEGER NOT NULL,
        length INTEGER NOT NULL,
        mean_area REAL NOT NULL,
        chosen INTEGER NOT NULL DEFAULT 0,
        descriptor BLOB,
        PRIMARY KEY (side, id)
      );
      CREATE TABLE faces (
        id INTEGER PRIMARY KEY,
        side TEXT NOT NULL,
        frame_idx INTEGER NOT NULL,
        track_id INTEGER,
        x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
        score REAL NOT NULL,
        landmarks TEXT,
        descriptor BLOB,
        crop TEXT,
        transform TEXT,
        yaw REAL, pitch REAL, sharpness REAL,
        status TEXT NOT NULL,
        reason TEXT
      );
      CREATE INDEX faces_by_frame ON faces (side, frame_idx);
      CREATE INDEX faces_by_track ON faces (side, track_id);
      CREATE TABLE person_choice (
        side TEXT PRIMARY KEY,
        track_id INTEGER,
        reference_image TEXT,
        chosen_at TEXT NOT NULL
      );
      CREATE TABLE mask_edits (
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        part TEXT NOT NULL,
        polygon TEXT,
        raster TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (face_id, part)
      );
      CREATE TABLE stage_cursor (
        side TEXT NOT NULL,
        stage TEXT NOT NULL,
        next_index INTEGER NOT NULL,
        finished INTEGER NOT NULL DEFAULT 0,
        state TEXT,
        PRIMARY KEY (side, stage)
      );
      CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        config TEXT NOT NULL,
        state TEXT NOT NULL,
        iteration INTEGER NOT NULL DEFAULT 0,
        target_iterations INTEGER NOT NULL,
        backend TEXT,
        checkpoint TEXT
      );
      CREATE TABLE losses (
        run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        iteration INTEGER NOT NULL,
        "values" TEXT NOT NULL,
        PRIMARY KEY (run_id, iteration)
      );
      CREATE TABLE previews (
        run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        iteration INTEGER NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (run_id, iteration)
      );
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        stage TEXT,
        done REAL NOT NULL DEFAULT 0,
        total REAL NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        error TEXT,
        result TEXT
      );
      CREATE TABLE exports (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL,
        config TEXT NOT NULL,
        metrics TEXT
      );
    `);
  },
  // 2: each frame's own pixel size (the images of a folder may differ; boxes are in each image's pixels).
  (db) => {
    db.exec(`
      ALTER TABLE frames ADD COLUMN width INTEGER;
      ALTER TABLE frames ADD COLUMN height INTEGER;
    `);
  },
];

export const DB_SCHEMA_VERSION = migrations.length;
