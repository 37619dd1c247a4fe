//! A thin safe layer over the CycloneDDS 11 C API (through `cyclonedds-sys`): a participant, a
//! topic whose type is built at run time from the schema with CycloneDDS' dynamic-type API (so
//! DDS peers see proper XTypes type information and CycloneDDS checks assignability), and
//! readers/writers that move serialized CDR (`dds_writecdr` / `dds_takecdr`), which the bridge
//! encodes and decodes itself (see [`crate::cdr`]).

use std::ffi::{CString, c_void};
use std::ptr;
use std::time::Duration;

use cyclonedds_sys::*;
use vbus_reflect::{BaseType, Object, Schema, Type};

use crate::cdr::{enum_of, is_optional, live};

// Not in cyclonedds-sys' bindings; stable public API of libddsc 11.
unsafe extern "C" {
    fn dds_takecdr(
        reader_or_condition: dds_entity_t,
        buf: *mut *mut ddsi_serdata,
        maxs: u32,
        si: *mut dds_sample_info_t,
        mask: u32,
    ) -> dds_return_t;
    fn dds_get_entity_sertype(entity: dds_entity_t, sertype: *mut *const ddsi_sertype) -> dds_return_t;
    fn dds_qset_data_representation(qos: *mut dds_qos_t, n: u32, values: *const i16);
    fn dds_strretcode(ret: dds_return_t) -> *const std::os::raw::c_char;
}

const DATA_REPRESENTATION_XCDR2: i16 = 2;
const RETCODE_PRECONDITION_NOT_MET: i32 = -4;
/// DDS_ANY_SAMPLE_STATE | DDS_ANY_VIEW_STATE | DDS_ANY_INSTANCE_STATE
const ANY_STATE: u32 = 0x7f;

/// An error from CycloneDDS (`dds_return_t` < 0) or from building a type.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct DdsError {
    /// The call that failed.
    pub what: String,
    /// CycloneDDS' text for the return code, or the reason.
    pub reason: String,
}

fn check(ret: i32, what: &str) -> Result<i32, DdsError> {
    if ret < 0 {
        // SAFETY: dds_strretcode returns a static string for any code.
        let reason = unsafe { std::ffi::CStr::from_ptr(dds_strretcode(ret)) }.to_string_lossy().into_owned();
        Err(DdsError { what: what.to_owned(), reason: format!("{reason} ({ret})") })
    } else {
        Ok(ret)
    }
}

fn cstring(s: &str) -> Result<CString, DdsError> {
    CString::new(s).map_err(|_| DdsError { what: format!("name `{s}`"), reason: "contains NUL".into() })
}

/// A DDS domain participant.
pub struct Participant {
    pp: dds_entity_t,
}

impl Participant {
    /// Join `domain_id`, with CycloneDDS XML configuration `config` (as `CYCLONEDDS_URI` takes
    /// it; `None`: CycloneDDS' defaults and `CYCLONEDDS_URI`).
    pub fn new(domain_id: u32, config: Option<&str>) -> Result<Self, DdsError> {
        if let Some(xml) = config {
            let c = cstring(xml)?;
            // SAFETY: plain FFI call with a valid C string.
            let d = unsafe { dds_create_domain(domain_id, c.as_ptr()) };
            // PRECONDITION_NOT_MET: the domain already exists in this process (e.g. a second
            // bridge in a test); its configuration stays.
            if d < 0 && d != RETCODE_PRECONDITION_NOT_MET {
                check(d, "dds_create_domain")?;
            }
        }
        // SAFETY: plain FFI call; null QoS and listener are allowed.
        let pp = unsafe { dds_create_participant(domain_id, ptr::null(), ptr::null()) };
        check(pp, "dds_create_participant")?;
        Ok(Self { pp })
    }

    pub(crate) fn entity(&self) -> dds_entity_t {
        self.pp
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        // SAFETY: deletes the participant and everything under it.
        unsafe { dds_delete(self.pp) };
    }
}

/// DDS QoS of one bridged topic, derived from the vbus topic QoS.
#[derive(Clone, Debug, Default)]
pub struct TopicQos {
    /// Reliable (else best effort).
    pub reliable: bool,
    /// KEEP_LAST depth (at least 1).
    pub depth: i32,
    /// TRANSIENT_LOCAL durability: late joiners get the last `depth` samples.
    pub transient_local: bool,
    /// Deadline offered by the bridge's writer.
    pub deadline: Option<Duration>,
    /// Partition (none: the default partition).
    pub partition: Option<String>,
}

struct Qos(*mut dds_qos_t);

impl Qos {
    fn new(q: &TopicQos, writer: bool) -> Self {
        // SAFETY: dds_create_qos returns a fresh QoS object, owned here, freed on drop.
        unsafe {
            let qos = dds_create_qos();
            let kind = if q.reliable {
                dds_reliability_kind::DDS_RELIABILITY_RELIABLE
            } else {
                dds_reliability_kind::DDS_RELIABILITY_BEST_EFFORT
            };
            dds_qset_reliability(qos, kind, 1_000_000_000);
            dds_qset_history(qos, dds_history_kind::DDS_HISTORY_KEEP_LAST, q.depth.max(1));
            let dur = if q.transient_local {
                dds_durability_kind::DDS_DURABILITY_TRANSIENT_LOCAL
            } else {
                dds_durability_kind::DDS_DURABILITY_VOLATILE
            };
            dds_qset_durability(qos, dur);
            if writer {
                // Offered only: a reader requesting a deadline would refuse C writers that
                // offer none.
                if let Some(d) = q.deadline {
                    dds_qset_deadline(qos, d.as_nanos().min(i64::MAX as u128) as i64);
                }
                dds_qset_data_representation(qos, 1, &DATA_REPRESENTATION_XCDR2);
            }
            // The bridge never sees its own writes: half of the loop prevention.
            dds_qset_ignorelocal(qos, dds_ignorelocal_kind::DDS_IGNORELOCAL_PARTICIPANT);
            Self(qos)
        }
    }
}

impl Drop for Qos {
    fn drop(&mut self) {
        // SAFETY: created by dds_create_qos.
        unsafe { dds_delete_qos(self.0) };
    }
}

/// A topic with a run-time type built from a schema table.
pub struct DynTopic {
    topic: dds_entity_t,
    pp: dds_entity_t,
    dtype: dds_dynamic_type_t,
    type_info: *mut dds_typeinfo_t,
    sertype: *const ddsi_sertype,
    qos: TopicQos,
    topic_name: String,
    type_name: String,
    /// Readers of the built-in DCPSPublication / DCPSSubscription topics.
    discovery: [dds_entity_t; 2],
}

// SAFETY: CycloneDDS entities are handles usable from any thread; the raw pointers are to
// immutable, reference-counted library objects kept alive by this value.
unsafe impl Send for DynTopic {}
// SAFETY: as above: all calls through these handles are thread-safe in CycloneDDS.
unsafe impl Sync for DynTopic {}

/// IDL scoped name of a schema type: `demo.dds.Status` -> `demo::dds::Status`.
pub fn idl_name(fqn: &str) -> String {
    fqn.replace('.', "::")
}

struct TypeBuilder<'s> {
    pp: dds_entity_t,
    schema: &'s Schema,
    names: Vec<CString>,
    octet: bool,
}

fn spec_prim(kind: dds_dynamic_type_kind) -> dds_dynamic_type_spec_t {
    dds_dynamic_type_spec_t {
        kind: dds_dynamic_type_spec_kind::DDS_DYNAMIC_TYPE_KIND_PRIMITIVE,
        type_: dds_dynamic_type_spec__bindgen_ty_1 { primitive: kind },
    }
}

fn spec_def(t: dds_dynamic_type_t) -> dds_dynamic_type_spec_t {
    dds_dynamic_type_spec_t {
        kind: dds_dynamic_type_spec_kind::DDS_DYNAMIC_TYPE_KIND_DEFINITION,
        type_: dds_dynamic_type_spec__bindgen_ty_1 { type_: t },
    }
}

impl TypeBuilder<'_> {
    fn name(&mut self, s: &str) -> Result<*const std::os::raw::c_char, DdsError> {
        let c = cstring(s)?;
        let p = c.as_ptr();
        self.names.push(c);
        Ok(p)
    }

    fn create(
        &mut self,
        kind: dds_dynamic_type_kind,
        name: &str,
        element: Option<dds_dynamic_type_spec_t>,
    ) -> Result<dds_dynamic_type_t, DdsError> {
        let name = self.name(name)?;
        // SAFETY: a zeroed spec is the "none" spec; all pointers live in self.names.
        let t = unsafe {
            let mut d: dds_dynamic_type_descriptor_t = std::mem::zeroed();
            d.kind = kind;
            d.name = name;
            if let Some(e) = element {
                d.element_type = e;
            }
            dds_dynamic_type_create(self.pp, d)
        };
        check(t.ret, "dds_dynamic_type_create")?;
        Ok(t)
    }

    fn scalar(&mut self, t: &Type) -> Result<dds_dynamic_type_spec_t, DdsError> {
        use dds_dynamic_type_kind as K;
        if let Some(e) = enum_of(self.schema, t) {
            let mut et = self.create(K::DDS_DYNAMIC_ENUMERATION, &idl_name(&e.name), None)?;
            for v in &e.values {
                let n = self.name(&v.name)?;
                let value = dds_dynamic_enum_literal_value_t {
                    value_kind: dds_dynamic_type_enum_value_kind::DDS_DYNAMIC_ENUM_LITERAL_VALUE_EXPLICIT,
                    value: v.value as i32,
                };
                // SAFETY: et is a live enum type under construction.
                check(
                    unsafe { dds_dynamic_type_add_enum_literal(&mut et, n, value, false) },
                    "enum literal",
                )?;
            }
            return Ok(spec_def(et));
        }
        Ok(spec_prim(match t.base {
            BaseType::Bool => K::DDS_DYNAMIC_BOOLEAN,
            BaseType::Byte => K::DDS_DYNAMIC_INT8,
            BaseType::UByte if self.octet => K::DDS_DYNAMIC_BYTE,
            BaseType::UByte => K::DDS_DYNAMIC_UINT8,
            BaseType::Short => K::DDS_DYNAMIC_INT16,
            BaseType::UShort => K::DDS_DYNAMIC_UINT16,
            BaseType::Int => K::DDS_DYNAMIC_INT32,
            BaseType::UInt => K::DDS_DYNAMIC_UINT32,
            BaseType::Long => K::DDS_DYNAMIC_INT64,
            BaseType::ULong => K::DDS_DYNAMIC_UINT64,
            BaseType::Float => K::DDS_DYNAMIC_FLOAT32,
            BaseType::Double => K::DDS_DYNAMIC_FLOAT64,
            other => {
                return Err(DdsError { what: "type".into(), reason: format!("{other:?} is not a scalar") });
            }
        }))
    }

    fn member_type(&mut self, t: &Type) -> Result<dds_dynamic_type_spec_t, DdsError> {
        use dds_dynamic_type_kind as K;
        match t.base {
            BaseType::String => Ok(spec_def(self.create(K::DDS_DYNAMIC_STRING8, "string", None)?)),
            BaseType::Obj => {
                let o = self
                    .schema
                    .object_of(t)
                    .ok_or_else(|| DdsError { what: "type".into(), reason: "bad object".into() })?;
                Ok(spec_def(self.object(o, o.is_struct)?))
            }
            BaseType::Vector => {
                let e = self.member_type(&t.element_type())?;
                Ok(spec_def(self.create(K::DDS_DYNAMIC_SEQUENCE, "sequence", Some(e))?))
            }
            _ => self.scalar(t),
        }
    }

    fn object(&mut self, obj: &Object, fin: bool) -> Result<dds_dynamic_type_t, DdsError> {
        use dds_dynamic_type_kind as K;
        let mut st = self.create(K::DDS_DYNAMIC_STRUCTURE, &idl_name(&obj.name), None)?;
        let ext = if fin {
            dds_dynamic_type_extensibility::DDS_DYNAMIC_TYPE_EXT_FINAL
        } else {
            dds_dynamic_type_extensibility::DDS_DYNAMIC_TYPE_EXT_APPENDABLE
        };
        // SAFETY: st is a live struct type under construction.
        check(unsafe { dds_dynamic_type_set_extensibility(&mut st, ext) }, "set_extensibility")?;
        for (id, f) in live(obj).enumerate() {
            let ty = self.member_type(&f.ty)?;
            let name = self.name(&f.name)?;
            let m = dds_dynamic_member_descriptor_t {
                name,
                id: id as u32,
                type_: ty,
                default_value: ptr::null_mut(),
                index: u32::MAX,
                num_labels: 0,
                labels: ptr::null_mut(),
                default_label: false,
            };
            // SAFETY: st is live; add_member takes over the member type's reference.
            check(
                unsafe { dds_dynamic_type_add_member(&mut st, m) },
                &format!("member {}.{}", obj.name, f.name),
            )?;
            if f.key {
                // SAFETY: as above.
                check(unsafe { dds_dynamic_member_set_key(&mut st, id as u32, true) }, "set_key")?;
            }
            if is_optional(f) {
                // SAFETY: as above.
                check(unsafe { dds_dynamic_member_set_optional(&mut st, id as u32, true) }, "set_optional")?;
            }
        }
        Ok(st)
    }
}

impl DynTopic {
    /// Create topic `topic_name` of schema table `type_fqn` (`final_top`: as a `@final` struct
    /// instead of the `@appendable` one codegen's IDL declares).
    pub fn new(
        pp: &Participant,
        schema: &Schema,
        type_fqn: &str,
        topic_name: &str,
        final_top: bool,
        octet: bool,
        qos: TopicQos,
    ) -> Result<Self, DdsError> {
        let obj = schema.object(type_fqn).ok_or_else(|| DdsError {
            what: "type".into(),
            reason: format!("no `{type_fqn}` in the schema"),
        })?;
        let mut b = TypeBuilder { pp: pp.entity(), schema, names: Vec::new(), octet };
        let mut dtype = b.object(obj, final_top || obj.is_struct)?;
        let mut type_info: *mut dds_typeinfo_t = ptr::null_mut();
        // SAFETY: dtype is a complete type; on success type_info is owned by us.
        let r = unsafe { dds_dynamic_type_register(&mut dtype, &mut type_info) };
        if let Err(e) = check(r, "dds_dynamic_type_register") {
            // SAFETY: releases our reference.
            unsafe { dds_dynamic_type_unref(&mut dtype) };
            return Err(e);
        }
        let mut this = Self {
            topic: 0,
            pp: pp.entity(),
            dtype,
            type_info,
            sertype: ptr::null(),
            qos,
            topic_name: topic_name.to_owned(),
            type_name: idl_name(type_fqn),
            discovery: [0, 0],
        };
        let mut desc: *mut dds_topic_descriptor_t = ptr::null_mut();
        // SAFETY: type_info is registered in this participant's domain.
        check(
            unsafe {
                dds_create_topic_descriptor(
                    dds_find_scope::DDS_FIND_SCOPE_LOCAL_DOMAIN,
                    this.pp,
                    this.type_info,
                    0,
                    &mut desc,
                )
            },
            "dds_create_topic_descriptor",
        )?;
        let name = cstring(topic_name)?;
        let q = Qos::new(&this.qos, false);
        // SAFETY: desc is valid until deleted below; CycloneDDS copies what it keeps.
        let topic = unsafe { dds_create_topic(this.pp, desc, name.as_ptr(), q.0, ptr::null()) };
        // SAFETY: created above.
        unsafe { dds_delete_topic_descriptor(desc) };
        this.topic = check(topic, &format!("dds_create_topic `{topic_name}`"))?;
        // SAFETY: the sertype lives as long as the topic.
        check(unsafe { dds_get_entity_sertype(this.topic, &mut this.sertype) }, "dds_get_entity_sertype")?;
        for (slot, builtin) in
            this.discovery.iter_mut().zip([BUILTIN_TOPIC_DCPSPUBLICATION, BUILTIN_TOPIC_DCPSSUBSCRIPTION])
        {
            // SAFETY: built-in topic pseudo-handles are valid reader topics.
            let r = unsafe { dds_create_reader(this.pp, builtin, ptr::null(), ptr::null()) };
            *slot = check(r, "built-in topic reader")?;
        }
        Ok(this)
    }

    /// Type names of newly discovered remote readers/writers of this topic name whose type is
    /// not this topic's type (CycloneDDS never matches them; this is how they get reported).
    pub fn foreign_types(&self) -> Vec<String> {
        let mut out = Vec::new();
        for rd in self.discovery {
            let mut buf = [ptr::null_mut::<c_void>(); 16];
            // SAFETY: all-zero is a valid sample info.
            let mut si: [dds_sample_info_t; 16] = unsafe { std::mem::zeroed() };
            // SAFETY: loaned samples of the built-in endpoint type, returned below.
            let n = unsafe { dds_take(rd, buf.as_mut_ptr(), si.as_mut_ptr(), 16, 16) };
            if n <= 0 {
                continue;
            }
            for (b, info) in buf.iter().zip(si.iter()).take(n as usize) {
                if !info.valid_data {
                    continue;
                }
                // SAFETY: valid loaned dds_builtintopic_endpoint_t with C strings.
                let (topic, ty) = unsafe {
                    let e = &*(*b as *const dds_builtintopic_endpoint_t);
                    if e.topic_name.is_null() || e.type_name.is_null() {
                        continue;
                    }
                    (
                        std::ffi::CStr::from_ptr(e.topic_name).to_string_lossy().into_owned(),
                        std::ffi::CStr::from_ptr(e.type_name).to_string_lossy().into_owned(),
                    )
                };
                if topic == self.topic_name && ty != self.type_name {
                    out.push(ty);
                }
            }
            // SAFETY: returns the loan taken above.
            unsafe { dds_return_loan(rd, buf.as_mut_ptr(), n) };
        }
        out
    }

    /// Inconsistent-topic count: a peer announced this topic with a type that is not
    /// assignable to ours (CycloneDDS then does not match it).
    pub fn inconsistent_count(&self) -> u32 {
        let mut s = dds_inconsistent_topic_status_t { total_count: 0, total_count_change: 0 };
        // SAFETY: valid topic handle and out pointer.
        unsafe { dds_get_inconsistent_topic_status(self.topic, &mut s) };
        s.total_count
    }

    /// A writer on this topic.
    pub fn writer(&self) -> Result<Writer, DdsError> {
        let q = Qos::new(&self.qos, true);
        let parent = self.group(true)?;
        // SAFETY: valid handles and QoS.
        let w = unsafe { dds_create_writer(parent, self.topic, q.0, ptr::null()) };
        Ok(Writer { w: check(w, "dds_create_writer")?, sertype: self.sertype })
    }

    /// A reader on this topic.
    pub fn reader(&self) -> Result<Reader, DdsError> {
        let q = Qos::new(&self.qos, false);
        let parent = self.group(false)?;
        // SAFETY: valid handles and QoS.
        let r = unsafe { dds_create_reader(parent, self.topic, q.0, ptr::null()) };
        let r = check(r, "dds_create_reader")?;
        // SAFETY: valid reader handle.
        let ws = unsafe { dds_create_waitset(self.pp) };
        let ws = check(ws, "dds_create_waitset")?;
        // SAFETY: valid handles.
        let cond = unsafe { dds_create_readcondition(r, ANY_STATE) };
        check(cond, "dds_create_readcondition")?;
        // SAFETY: valid handles.
        check(unsafe { dds_waitset_attach(ws, cond, 0) }, "dds_waitset_attach")?;
        Ok(Reader { r, ws })
    }

    fn group(&self, publisher: bool) -> Result<dds_entity_t, DdsError> {
        let Some(p) = &self.qos.partition else { return Ok(self.pp) };
        let name = cstring(p)?;
        // SAFETY: fresh QoS, freed below; valid participant.
        unsafe {
            let q = dds_create_qos();
            dds_qset_partition1(q, name.as_ptr());
            let e = if publisher {
                dds_create_publisher(self.pp, q, ptr::null())
            } else {
                dds_create_subscriber(self.pp, q, ptr::null())
            };
            dds_delete_qos(q);
            check(e, "create publisher/subscriber")
        }
    }
}

impl Drop for DynTopic {
    fn drop(&mut self) {
        // SAFETY: releases what new() acquired; readers/writers are children of the
        // participant and go with it.
        unsafe {
            dds_free_typeinfo(self.type_info);
            dds_dynamic_type_unref(&mut self.dtype);
        }
    }
}

/// Writes serialized samples.
pub struct Writer {
    w: dds_entity_t,
    sertype: *const ddsi_sertype,
}

// SAFETY: see DynTopic.
unsafe impl Send for Writer {}

impl Writer {
    /// Write one serialized sample (4-byte encapsulation header + CDR). CycloneDDS checks it
    /// against the type and refuses what does not fit.
    pub fn write_cdr(&self, data: &[u8]) -> Result<(), DdsError> {
        let iov = ddsrt_iovec_t { iov_base: data.as_ptr() as *mut c_void, iov_len: data.len() };
        // SAFETY: sertype is alive with the topic; from_ser_iov copies the data.
        let sd = unsafe {
            let ops = &*(*self.sertype).serdata_ops;
            let f = ops.from_ser_iov.expect("from_ser_iov");
            f(self.sertype, ddsi_serdata_kind_SDK_DATA, 1, &iov, data.len())
        };
        if sd.is_null() {
            return Err(DdsError {
                what: "serdata".into(),
                reason: "CycloneDDS refused the CDR for this type".into(),
            });
        }
        // SAFETY: dds_writecdr takes over the serdata reference.
        check(unsafe { dds_writecdr(self.w, sd) }, "dds_writecdr")?;
        Ok(())
    }

    /// Readers currently matched.
    pub fn matched(&self) -> u32 {
        // SAFETY: valid handle and out pointer.
        unsafe {
            let mut s: dds_publication_matched_status_t = std::mem::zeroed();
            dds_get_publication_matched_status(self.w, &mut s);
            s.current_count
        }
    }
}

/// Takes serialized samples.
pub struct Reader {
    r: dds_entity_t,
    ws: dds_entity_t,
}

// SAFETY: see DynTopic.
unsafe impl Send for Reader {}

/// One sample taken from DDS.
pub struct CdrSample {
    /// Encapsulation header + CDR.
    pub data: Vec<u8>,
    /// Source timestamp, ns since the epoch.
    pub source_time_ns: i64,
}

impl Reader {
    /// Wait up to `timeout` for data and take what is there (valid samples only).
    pub fn take(&self, timeout: Duration, out: &mut Vec<CdrSample>) -> Result<(), DdsError> {
        // SAFETY: valid waitset; no attached-entity buffer wanted.
        let n = unsafe { dds_waitset_wait(self.ws, ptr::null_mut(), 0, timeout.as_nanos() as i64) };
        check(n, "dds_waitset_wait")?;
        const MAX: usize = 64;
        loop {
            let mut bufs = [ptr::null_mut::<ddsi_serdata>(); MAX];
            // SAFETY: all-zero is a valid sample info.
            let mut infos: [dds_sample_info_t; MAX] = unsafe { std::mem::zeroed() };
            // SAFETY: buffers sized MAX; each returned serdata reference is released below.
            let n = unsafe { dds_takecdr(self.r, bufs.as_mut_ptr(), MAX as u32, infos.as_mut_ptr(), 0) };
            let n = check(n, "dds_takecdr")? as usize;
            for (sd, info) in bufs.iter().zip(infos.iter()).take(n) {
                if info.valid_data {
                    // SAFETY: sd is a live serdata; to_ser copies `size` bytes.
                    let data = unsafe {
                        let ops = &*(**sd).ops;
                        let size = ops.get_size.expect("get_size")(*sd) as usize;
                        let mut buf = vec![0u8; size];
                        ops.to_ser.expect("to_ser")(*sd, 0, size, buf.as_mut_ptr() as *mut c_void);
                        buf
                    };
                    out.push(CdrSample { data, source_time_ns: info.source_timestamp });
                }
                // SAFETY: releases the reference dds_takecdr gave us.
                unsafe { ddsi_serdata_removeref(*sd) };
            }
            if n < MAX {
                return Ok(());
            }
        }
    }

    /// Writers currently matched.
    pub fn matched(&self) -> u32 {
        // SAFETY: valid handle and out pointer.
        unsafe {
            let mut s: dds_subscription_matched_status_t = std::mem::zeroed();
            dds_get_subscription_matched_status(self.r, &mut s);
            s.current_count
        }
    }
}
