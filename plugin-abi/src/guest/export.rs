//! [`crate::export_plugin!`], the macro that exports a plugin: static metadata, vtable and the
//! `dossier_plugin_info` symbol, all through `$crate` paths so the plugin's crate needs only
//! `dossier-plugin-api` and `dossier-plugin-abi`.

/// Exports a plugin written against the safe traits through the C ABI.
///
/// ```text
/// dossier_plugin_abi::export_plugin! {
///     name: "ssh-keys",
///     version: env!("CARGO_PKG_VERSION"),
///     collector: SshKeysCollector,   // any of collector / analyzer / reporter, in this order
///     analyzer: SshKeysAnalyzer,
/// }
/// ```
///
/// Each type implements its trait and `Default`. The macro defines the static metadata and
/// vtable and the exported `dossier_plugin_info` symbol; build the crate as a `cdylib`.
/// `export_plugin!(custom_info; ...)` defines everything but the exported symbol, for a crate
/// that exports `dossier_plugin_info` itself (tests of the loader's refusals).
#[macro_export]
macro_rules! export_plugin {
    (custom_info; name: $name:expr, version: $version:expr
        $(, collector: $c:ty)? $(, analyzer: $a:ty)? $(, reporter: $r:ty)? $(,)?) => {
        #[doc(hidden)]
        pub struct DossierPluginKinds;

        impl $crate::guest::MakeInstances for DossierPluginKinds {
            fn make(
                kind: u32,
                config: &$crate::__private::serde_json::Value,
            ) -> Option<Result<Box<dyn $crate::guest::GuestInstance>, String>> {
                $(
                    if kind == $crate::KIND_COLLECTOR {
                        let c = <$c as ::core::default::Default>::default();
                        return Some(Ok(Box::new($crate::guest::CollectorGuest(c))));
                    }
                )?
                $(
                    if kind == $crate::KIND_ANALYZER {
                        let a = <$a as ::core::default::Default>::default();
                        return Some(Ok(Box::new($crate::guest::AnalyzerGuest(a))));
                    }
                )?
                $(
                    if kind == $crate::KIND_REPORTER {
                        return Some(
                            $crate::guest::ReporterGuest::<$r>::configured(config)
                                .map(|g| Box::new(g) as Box<dyn $crate::guest::GuestInstance>),
                        );
                    }
                )?
                let _ = (kind, config);
                None
            }
        }

        #[doc(hidden)]
        pub static DOSSIER_PLUGIN_VTABLE: $crate::PluginVTable = $crate::PluginVTable {
            struct_size: ::core::mem::size_of::<$crate::PluginVTable>(),
            create: $crate::guest::create::<DossierPluginKinds>,
            call: $crate::guest::call,
            free_buf: $crate::guest::free_buf,
            destroy: $crate::guest::destroy,
        };

        /// The plugin's static metadata.
        pub static DOSSIER_PLUGIN_INFO: $crate::PluginInfo = $crate::PluginInfo {
            abi_version: $crate::ABI_VERSION,
            kinds: 0
                $(| $crate::guest::kind_of::<$c>($crate::KIND_COLLECTOR))?
                $(| $crate::guest::kind_of::<$a>($crate::KIND_ANALYZER))?
                $(| $crate::guest::kind_of::<$r>($crate::KIND_REPORTER))?,
            api_version: $crate::StrRef::new($crate::__private::API_VERSION),
            target: $crate::StrRef::new($crate::TARGET),
            name: $crate::StrRef::new($name),
            version: $crate::StrRef::new($version),
            vtable: &DOSSIER_PLUGIN_VTABLE,
        };
    };
    (name: $name:expr, version: $version:expr
        $(, collector: $c:ty)? $(, analyzer: $a:ty)? $(, reporter: $r:ty)? $(,)?) => {
        $crate::export_plugin!(custom_info; name: $name, version: $version
            $(, collector: $c)? $(, analyzer: $a)? $(, reporter: $r)?);

        /// The plugin's entry point: its static metadata.
        #[unsafe(no_mangle)]
        pub extern "C" fn dossier_plugin_info() -> *const $crate::PluginInfo {
            &DOSSIER_PLUGIN_INFO
        }
    };
}
