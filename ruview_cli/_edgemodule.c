/*
 * ruview_cli._edge — the firmware's portable C core (firmware/components/ruview_edge) as a
 * CPython extension, so the simulator, replay and the accuracy benchmark run the node's own DSP
 * instead of a Python re-implementation.
 *
 * EdgePipeline owns one rv_edge_t and one rv_out_t, allocated once at construction: the frame
 * path (process) allocates nothing but the returned bytes objects. The GIL is released around
 * rv_edge_process; a per-object lock keeps two threads from running the same pipeline at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <string.h>

#include "ruview_edge.h"

/* The csi_cfg keys EdgePipeline accepts, in rv_edge_cfg_t order. */
static const char *const CFG_KEYS[] = {
    "node_id", "edge_tier", "pres_thresh", "fall_thresh", "vital_win", "vital_int", "subk_count",
};
#define N_CFG_KEYS (sizeof(CFG_KEYS) / sizeof(CFG_KEYS[0]))

static const char *type_name(rv_nvs_type_t t)
{
    switch (t) {
    case RV_NVS_U8: return "u8";
    case RV_NVS_U16: return "u16";
    case RV_NVS_U32: return "u32";
    case RV_NVS_STR: return "str";
    case RV_NVS_BLOB: return "blob";
    }
    return "?";
}

static int is_int_type(rv_nvs_type_t t)
{
    return t == RV_NVS_U8 || t == RV_NVS_U16 || t == RV_NVS_U32;
}

static uint32_t cfg_get(const rv_edge_cfg_t *c, size_t i)
{
    switch (i) {
    case 0: return c->node_id;
    case 1: return c->edge_tier;
    case 2: return c->pres_thresh;
    case 3: return c->fall_thresh;
    case 4: return c->vital_win;
    case 5: return c->vital_int;
    default: return c->subk_count;
    }
}

static void cfg_set(rv_edge_cfg_t *c, size_t i, uint32_t v)
{
    switch (i) {
    case 0: c->node_id = (uint8_t)v; break;
    case 1: c->edge_tier = (uint8_t)v; break;
    case 2: c->pres_thresh = (uint16_t)v; break;
    case 3: c->fall_thresh = (uint16_t)v; break;
    case 4: c->vital_win = (uint16_t)v; break;
    case 5: c->vital_int = (uint16_t)v; break;
    default: c->subk_count = (uint8_t)v; break;
    }
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    rv_edge_t *state;        /* rv_edge_state_size() bytes, owned */
    rv_out_t *out;           /* datagram buffer, owned */
    rv_edge_cfg_t cfg;       /* the validated configuration the state was initialised with */
    PyThread_type_lock lock; /* serialises process/note_loss/reset across threads */
} EdgePipelineObject;

static void lock_object(EdgePipelineObject *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

/* Validate one keyword against the core's NVS table; returns 0 and sets *out, or -1 with an
 * exception naming the key and its valid range. */
static int check_cfg_value(const char *key, PyObject *value, uint32_t *out)
{
    const rv_nvs_key_t *k = rv_nvs_find("csi_cfg", key);
    if (k == NULL) {
        PyErr_Format(PyExc_SystemError, "the firmware core has no csi_cfg/%s entry in rv_nvs_keys", key);
        return -1;
    }
    if (!PyLong_Check(value) || PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int in %lu..%lu (the stored NVS %s value), not %.50s",
                     key, (unsigned long)k->min, (unsigned long)k->max, type_name(k->type),
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0 || v > (long long)UINT32_MAX || !rv_nvs_int_valid(k, (uint32_t)v)) {
        PyErr_Format(PyExc_ValueError, "%s=%S is out of range: valid %lu..%lu", key, value,
                     (unsigned long)k->min, (unsigned long)k->max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_cfg(PyObject *args, PyObject *kwds, rv_edge_cfg_t *cfg)
{
    rv_edge_cfg_defaults(cfg);
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError,
                     "EdgePipeline() takes at most 2 positional arguments (node_id, edge_tier), %zd given; "
                     "pass the other csi_cfg keys by name", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        uint32_t v;
        if (check_cfg_value(CFG_KEYS[i], PyTuple_GET_ITEM(args, i), &v) < 0)
            return -1;
        cfg_set(cfg, (size_t)i, v);
    }
    if (kwds == NULL)
        return 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (name == NULL) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "EdgePipeline() keywords must be strings");
            return -1;
        }
        size_t i;
        for (i = 0; i < N_CFG_KEYS; i++)
            if (strcmp(name, CFG_KEYS[i]) == 0)
                break;
        if (i == N_CFG_KEYS) {
            PyErr_Format(PyExc_TypeError,
                         "EdgePipeline() got an unknown keyword '%s'; valid keys: node_id, "
                         "edge_tier, pres_thresh, fall_thresh, vital_win, vital_int, subk_count "
                         "(see ruview_cli._edge.nvs_keys() for ranges)", name);
            return -1;
        }
        if ((Py_ssize_t)i < nargs) {
            PyErr_Format(PyExc_TypeError, "EdgePipeline() got multiple values for '%s'", name);
            return -1;
        }
        uint32_t v;
        if (check_cfg_value(name, value, &v) < 0)
            return -1;
        cfg_set(cfg, i, v);
    }
    return 0;
}

static PyObject *EdgePipeline_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    EdgePipelineObject *self = (EdgePipelineObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->state = (rv_edge_t *)PyMem_Calloc(1, rv_edge_state_size());
    self->out = (rv_out_t *)PyMem_Calloc(1, sizeof(rv_out_t));
    self->lock = PyThread_allocate_lock();
    if (self->state == NULL || self->out == NULL || self->lock == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    rv_edge_cfg_defaults(&self->cfg);
    rv_edge_init(self->state, &self->cfg);
    return (PyObject *)self;
}

static int EdgePipeline_init(EdgePipelineObject *self, PyObject *args, PyObject *kwds)
{
    rv_edge_cfg_t cfg;
    if (parse_cfg(args, kwds, &cfg) < 0)
        return -1;
    lock_object(self);
    self->cfg = cfg;
    rv_edge_init(self->state, &self->cfg);
    PyThread_release_lock(self->lock);
    return 0;
}

static void EdgePipeline_dealloc(EdgePipelineObject *self)
{
    PyMem_Free(self->state);
    PyMem_Free(self->out);
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Convert an int argument into [lo, hi] or raise ValueError naming it. */
static int int_in_range(PyObject *obj, const char *name, long long lo, long long hi, long long *out)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.50s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "%s=%S is out of range: valid %lld..%lld", name, obj, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static PyObject *EdgePipeline_process(EdgePipelineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"iq", "rssi", "channel", "timestamp_us", "noise_floor", NULL};
    Py_buffer iq;
    PyObject *o_rssi, *o_channel, *o_ts, *o_nf = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*OOO|O:process", kwlist, &iq, &o_rssi,
                                     &o_channel, &o_ts, &o_nf))
        return NULL;
    long long rssi, channel, ts, nf = -95;
    PyObject *result = NULL;
    if (iq.len < 2 || iq.len > RV_MAX_IQ_BYTES || (iq.len & 1)) {
        PyErr_Format(PyExc_ValueError,
                     "iq must hold 2..%d bytes as I/Q pairs (an even length), got %zd bytes",
                     RV_MAX_IQ_BYTES, iq.len);
        goto done;
    }
    if (int_in_range(o_rssi, "rssi", -128, 127, &rssi) < 0 ||
        int_in_range(o_channel, "channel", 1, 255, &channel) < 0 ||
        int_in_range(o_ts, "timestamp_us", 0, LLONG_MAX, &ts) < 0 ||
        (o_nf != NULL && int_in_range(o_nf, "noise_floor", -128, 127, &nf) < 0))
        goto done;

    rv_frame_t f;
    f.iq = (const int8_t *)iq.buf;
    f.iq_len = (uint16_t)iq.len;
    f.n_antennas = 1;
    f.rssi = (int8_t)rssi;
    f.noise_floor = (int8_t)nf;
    f.channel = (uint8_t)channel;
    f.timestamp_us = (uint64_t)ts;

    lock_object(self);
    int n;
    Py_BEGIN_ALLOW_THREADS
    n = rv_edge_process(self->state, &f, self->out);
    Py_END_ALLOW_THREADS
    if (n < 0 || n > RV_OUT_MAX_PACKETS || self->out->n > RV_OUT_MAX_PACKETS) {
        PyThread_release_lock(self->lock);
        PyErr_Format(PyExc_SystemError, "rv_edge_process returned %d packets (max %d)", n,
                     RV_OUT_MAX_PACKETS);
        goto done;
    }
    n = self->out->n;
    result = PyList_New(n);
    for (int i = 0; result != NULL && i < n; i++) {
        uint16_t len = self->out->len[i];
        if (len > RV_OUT_MAX_BYTES)
            len = RV_OUT_MAX_BYTES;
        PyObject *b = PyBytes_FromStringAndSize((const char *)self->out->data[i], len);
        if (b == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, b);
    }
    PyThread_release_lock(self->lock);
done:
    PyBuffer_Release(&iq);
    return result;
}

static PyObject *EdgePipeline_note_loss(EdgePipelineObject *self, PyObject *arg)
{
    long long frames;
    if (int_in_range(arg, "frames", 0, UINT32_MAX, &frames) < 0)
        return NULL;
    lock_object(self);
    rv_edge_note_loss(self->state, (uint32_t)frames);
    PyThread_release_lock(self->lock);
    Py_RETURN_NONE;
}

static PyObject *EdgePipeline_reset(EdgePipelineObject *self, PyObject *Py_UNUSED(ignored))
{
    lock_object(self);
    rv_edge_init(self->state, &self->cfg);
    PyThread_release_lock(self->lock);
    Py_RETURN_NONE;
}

static PyObject *cfg_dict(const rv_edge_cfg_t *cfg)
{
    PyObject *d = PyDict_New();
    for (size_t i = 0; d != NULL && i < N_CFG_KEYS; i++) {
        PyObject *v = PyLong_FromUnsignedLong(cfg_get(cfg, i));
        if (v == NULL || PyDict_SetItemString(d, CFG_KEYS[i], v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *EdgePipeline_get_config(EdgePipelineObject *self, void *closure)
{
    (void)closure;
    return cfg_dict(&self->cfg);
}

/* Internal measurements, for tests and benchmarks only (the firmware sends none of these). */
static PyObject *EdgePipeline_get_internals(EdgePipelineObject *self, void *closure)
{
    (void)closure;
    const rv_edge_t *e = self->state;
    return Py_BuildValue(
        "{s:d,s:d,s:i,s:d,s:d,s:d,s:d,s:d,s:d}",
        "input_rate_hz", e->in_dt_s > 0.0f ? 1.0 / e->in_dt_s : 0.0,
        "dsp_rate_hz", e->dt_s > 0.0f ? 1.0 / e->dt_s : 0.0,
        "decimation", (int)e->decim,
        "presence_metric", (double)e->pres_metric,
        "presence_threshold", (double)e->pres_thr,
        "motion_ratio", e->me_base > 0.0f ? (double)(e->motion_energy / e->me_base) : 0.0,
        "fall_metric", (double)e->fall_metric,
        "heart_last_bpm", (double)e->heart_last,
        "heart_last_conf", (double)e->heart_last_conf);
}

static PyObject *EdgePipeline_repr(EdgePipelineObject *self)
{
    const rv_edge_cfg_t *c = &self->cfg;
    return PyUnicode_FromFormat(
        "EdgePipeline(node_id=%u, edge_tier=%u, pres_thresh=%u, fall_thresh=%u, vital_win=%u, "
        "vital_int=%u, subk_count=%u)",
        (unsigned)c->node_id, (unsigned)c->edge_tier, (unsigned)c->pres_thresh,
        (unsigned)c->fall_thresh, (unsigned)c->vital_win, (unsigned)c->vital_int,
        (unsigned)c->subk_count);
}

static PyMethodDef EdgePipeline_methods[] = {
    {"process", (PyCFunction)(void (*)(void))EdgePipeline_process, METH_VARARGS | METH_KEYWORDS,
     "process(iq, rssi, channel, timestamp_us, noise_floor=-95) -> list[bytes]\n\n"
     "Run one CSI frame (int8 I/Q pairs, one antenna) through the firmware core and return the "
     "UDP datagrams the node would send because of it, in send order."},
    {"note_loss", (PyCFunction)EdgePipeline_note_loss, METH_O,
     "note_loss(frames) -> None\n\nFrames dropped before the DSP or datagrams that failed to "
     "send: the next frame goes out as a raw keyframe."},
    {"reset", (PyCFunction)EdgePipeline_reset, METH_NOARGS,
     "reset() -> None\n\nRe-initialise the pipeline with the same configuration (a reboot)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef EdgePipeline_getset[] = {
    {"config", (getter)EdgePipeline_get_config, NULL,
     "The effective csi_cfg keys (stored integer units) as a dict.", NULL},
    {"internals", (getter)EdgePipeline_get_internals, NULL,
     "Internal measurements (rates, decimation, presence/motion/fall metrics): tests only.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject EdgePipelineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ruview_cli._edge.EdgePipeline",
    .tp_doc = "EdgePipeline(node_id=1, edge_tier=2, **keys)\n\n"
              "One node's edge DSP pipeline (the firmware core). Keywords are the csi_cfg NVS keys "
              "with their stored integer values (pres_thresh, fall_thresh, vital_win, vital_int, "
              "subk_count); missing ones take the firmware defaults.",
    .tp_basicsize = sizeof(EdgePipelineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = EdgePipeline_new,
    .tp_init = (initproc)EdgePipeline_init,
    .tp_dealloc = (destructor)EdgePipeline_dealloc,
    .tp_repr = (reprfunc)EdgePipeline_repr,
    .tp_methods = EdgePipeline_methods,
    .tp_getset = EdgePipeline_getset,
};

/* ------------------------------------------------------------------------------------------ */

static PyObject *edge_nvs_keys(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    PyObject *list = PyList_New(0);
    for (const rv_nvs_key_t *k = rv_nvs_keys; list != NULL && k->key != NULL; k++) {
        PyObject *def = is_int_type(k->type) ? PyLong_FromUnsignedLong(k->def) : (Py_INCREF(Py_None), Py_None);
        PyObject *d = def == NULL ? NULL
                                  : Py_BuildValue("{s:s,s:s,s:s,s:k,s:k,s:O}", "ns", k->ns, "key", k->key,
                                                  "type", type_name(k->type), "min", (unsigned long)k->min,
                                                  "max", (unsigned long)k->max, "default", def);
        Py_XDECREF(def);
        if (d == NULL || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}

static PyObject *edge_nvs_value_valid(PyObject *module, PyObject *args)
{
    (void)module;
    const char *ns, *key;
    PyObject *value;
    if (!PyArg_ParseTuple(args, "ssO:nvs_value_valid", &ns, &key, &value))
        return NULL;
    const rv_nvs_key_t *k = rv_nvs_find(ns, key);
    int is_int = PyLong_Check(value) && !PyBool_Check(value);
    int is_str = PyUnicode_Check(value);
    int is_bytes = PyBytes_Check(value) || PyByteArray_Check(value) || PyMemoryView_Check(value);
    if (!is_int && !is_str && !is_bytes) {
        PyErr_Format(PyExc_TypeError, "nvs_value_valid: value must be int, str or bytes, not %.50s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    if (k == NULL)
        Py_RETURN_FALSE; /* the firmware reads no such key */
    if (is_int_type(k->type)) {
        if (!is_int)
            Py_RETURN_FALSE;
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (overflow || v < 0 || v > (long long)UINT32_MAX)
            Py_RETURN_FALSE;
        return PyBool_FromLong(rv_nvs_int_valid(k, (uint32_t)v));
    }
    if (is_int)
        Py_RETURN_FALSE;
    if (k->type == RV_NVS_STR && !is_str && !PyBytes_Check(value))
        Py_RETURN_FALSE; /* a str key holds text */
    if (k->type == RV_NVS_BLOB && is_str)
        Py_RETURN_FALSE; /* a blob holds bytes */

    PyObject *raw = is_str ? PyUnicode_AsUTF8String(value) : PyBytes_FromObject(value);
    if (raw == NULL)
        return NULL;
    const char *buf = PyBytes_AS_STRING(raw);
    Py_ssize_t len = PyBytes_GET_SIZE(raw);
    int ok = rv_nvs_len_valid(k, (size_t)len);
    if (ok && k->type == RV_NVS_STR) {
        /* NVS strings are NUL-terminated: an embedded NUL would truncate it on the node. */
        if ((Py_ssize_t)strlen(buf) != len)
            ok = 0;
        else if (strcmp(key, "target_ip") == 0 && strcmp(ns, "csi_cfg") == 0) {
            uint8_t ip[4];
            ok = rv_ipv4_parse(buf, ip);
        }
    }
    Py_DECREF(raw);
    return PyBool_FromLong(ok);
}

static PyObject *edge_state_size(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromSize_t(rv_edge_state_size());
}

static PyObject *edge_cfg_defaults(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    rv_edge_cfg_t cfg;
    rv_edge_cfg_defaults(&cfg);
    return cfg_dict(&cfg);
}

static PyMethodDef edge_methods[] = {
    {"nvs_keys", edge_nvs_keys, METH_NOARGS,
     "nvs_keys() -> list[dict]\n\nEvery NVS key the firmware reads, from the core's rv_nvs_keys "
     "table: ns, key, type (u8/u16/u32/str/blob), min, max (integers: range; str/blob: length), "
     "default (integers; None for str/blob)."},
    {"nvs_value_valid", edge_nvs_value_valid, METH_VARARGS,
     "nvs_value_valid(ns, key, value) -> bool\n\nWould the firmware accept this value for this "
     "key (right type, in range / length, target_ip a dotted quad)? False for keys it does not read."},
    {"state_size", edge_state_size, METH_NOARGS,
     "state_size() -> int\n\nBytes of one pipeline state (rv_edge_state_size())."},
    {"cfg_defaults", edge_cfg_defaults, METH_NOARGS,
     "cfg_defaults() -> dict\n\nThe firmware's compiled csi_cfg edge defaults (rv_edge_cfg_defaults)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef edge_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ruview_cli._edge",
    .m_doc = "The RuView node firmware's portable C core (firmware/components/ruview_edge).",
    .m_size = -1,
    .m_methods = edge_methods,
};

PyMODINIT_FUNC PyInit__edge(void)
{
    if (PyType_Ready(&EdgePipelineType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&edge_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&EdgePipelineType);
    if (PyModule_AddObject(m, "EdgePipeline", (PyObject *)&EdgePipelineType) < 0 ||
        PyModule_AddIntConstant(m, "MAX_IQ_BYTES", RV_MAX_IQ_BYTES) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SUBCARRIERS", RV_MAX_SUBCARRIERS) < 0 ||
        PyModule_AddIntConstant(m, "OUT_MAX_PACKETS", RV_OUT_MAX_PACKETS) < 0) {
        Py_DECREF(&EdgePipelineType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
