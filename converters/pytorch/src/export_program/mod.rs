//! placeholder
pub fn import_pt2(_p:&std::path::Path)->crate::Result<edgeport_ir::Graph>{Err(crate::Error::Format{file:String::new(),msg:String::new()})}
