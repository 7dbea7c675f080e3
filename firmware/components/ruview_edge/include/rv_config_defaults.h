/* Compiled defaults of the node configuration (one place; the NVS table and
 * rv_edge_cfg_defaults both read them). Override with -D at build time. */
#ifndef RV_CONFIG_DEFAULTS_H
#define RV_CONFIG_DEFAULTS_H

#ifndef RV_DEF_NODE_ID
#define RV_DEF_NODE_ID      1
#endif
#ifndef RV_DEF_EDGE_TIER
#define RV_DEF_EDGE_TIER    2
#endif
#ifndef RV_DEF_PRES_THRESH
#define RV_DEF_PRES_THRESH  0       /* 0 = adaptive calibration */
#endif
/* fall_thresh/1000 is a RATIO: the short-time (0.25 s) power-weighted mean magnitude of the
 * frame-to-frame change of the sanitised channel (|d ln H|: phase and relative amplitude),
 * divided by its quiet-room floor (tracked continuously). 1.0 = a still room; a fall or walking
 * reaches ~2-10. A fall = above the threshold for 0.1-3 s, then below half of it for 1.5 s
 * (walking is sustained, so it is not a fall). Reachable range ~1..30. */
#ifndef RV_DEF_FALL_THRESH
#define RV_DEF_FALL_THRESH  3000    /* 3x the quiet-room change rate */
#endif
#ifndef RV_DEF_VITAL_WIN
#define RV_DEF_VITAL_WIN    256
#endif
#ifndef RV_DEF_VITAL_INT
#define RV_DEF_VITAL_INT    1000
#endif
#ifndef RV_DEF_SUBK_COUNT
#define RV_DEF_SUBK_COUNT   8
#endif
#ifndef RV_DEF_TARGET_PORT
#define RV_DEF_TARGET_PORT  5005
#endif

#endif /* RV_CONFIG_DEFAULTS_H */
