//! `#[derive(Module)]` for Ember: writes a struct's `children`, `own_parameters` and `own_buffers`
//! from its fields, with PyTorch's `state_dict` names.
//!
//! Use it through `ember::nn::Module` (or `ember_nn::Module`), which brings the trait and this
//! derive together, as serde's `Serialize` does. What each field becomes:
//! - a `Variable` is a parameter named as the field; `#[module(buffer)]` makes it a buffer;
//! - a field whose type is a module (`Linear`, a user struct, `Box<dyn Module>`, `ModuleList<T>`)
//!   is a child named as the field;
//! - `Vec<T>` and `[T; N]` of either are named `name.0`, `name.1`, ...; `Option<T>` counts when `Some`;
//! - a `TrainingFlag` field becomes the module's own flag (`training_flag`); none is needed;
//! - any other field (numbers, strings, configs, plain `Tensor`s) is plain data and ignored, as
//!   PyTorch ignores attributes that are not modules, parameters or buffers;
//!   `#[module(skip)]` leaves out a field that would otherwise count;
//! - `#[module(name = "LayerNorm")]` gives a field another `state_dict` name (`self`, capitals, ...).
//!
//! On the struct, `#[module(forward = path)]` names a `fn(&Self, &Variable) -> Variable` used as
//! the one-input `forward`; without it the module keeps the provided `forward` (it fails naming
//! the type) and defines its own methods for several inputs.
//!
//! Type parameters count as modules only where the struct bounds them by `Module`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr, Path, Type};

/// Derives `Module` for a struct, for code that uses Ember through the `ember` facade
/// (`use ember::nn::Module;`). See the crate docs for what each field becomes.
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    expand(parse_macro_input!(input as DeriveInput), quote!(::ember::nn))
}

/// The same derive for code that depends on `ember-nn` directly: `ember_nn` re-exports it as
/// `Module`.
#[proc_macro_derive(NnModule, attributes(module))]
pub fn derive_nn_module(input: TokenStream) -> TokenStream {
    expand(parse_macro_input!(input as DeriveInput), quote!(::ember_nn))
}

#[derive(Default)]
struct FieldOpts {
    skip: bool,
    buffer: bool,
    name: Option<String>,
}

#[derive(Default)]
struct StructOpts {
    forward: Option<Path>,
    krate: Option<Path>,
}

fn expand(input: DeriveInput, default_root: Tokens) -> TokenStream {
    match try_expand(input, default_root) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn struct_opts(input: &DeriveInput) -> syn::Result<StructOpts> {
    let mut o = StructOpts::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("forward") {
                o.forward = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("crate") {
                o.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else {
                return Err(meta.error("expected `forward = path` or `crate = \"path\"` in #[module(...)] on a struct"));
            }
            Ok(())
        })?;
    }
    Ok(o)
}

fn field_opts(attrs: &[syn::Attribute]) -> syn::Result<FieldOpts> {
    let mut o = FieldOpts::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                o.skip = true;
            } else if meta.path.is_ident("buffer") {
                o.buffer = true;
            } else if meta.path.is_ident("name") {
                o.name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                return Err(meta.error("expected `skip`, `buffer` or `name = \"...\"` in #[module(...)] on a field"));
            }
            Ok(())
        })?;
    }
    if o.skip && (o.buffer || o.name.is_some()) {
        return Err(syn::Error::new_spanned(&attrs[0], "#[module(skip)] cannot be combined with `buffer` or `name`"));
    }
    Ok(o)
}

/// True when the type's last path segment is `TrainingFlag`.
fn is_training_flag(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "TrainingFlag"))
}

fn try_expand(input: DeriveInput, default_root: Tokens) -> syn::Result<Tokens> {
    let opts = struct_opts(&input)?;
    let root = match &opts.krate {
        Some(p) => quote!(#p),
        None => default_root,
    };
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(&input.ident, "#[derive(Module)] supports structs only"));
    };
    let fields: Vec<&syn::Field> = match &data.fields {
        Fields::Named(f) => f.named.iter().collect(),
        Fields::Unnamed(f) => f.unnamed.iter().collect(),
        Fields::Unit => Vec::new(),
    };
    let (mut children, mut params, mut buffers, mut flag) = (Vec::new(), Vec::new(), Vec::new(), None);
    for (i, f) in fields.iter().enumerate() {
        let o = field_opts(&f.attrs)?;
        let access = match &f.ident {
            Some(id) => quote!(#id),
            None => {
                let idx = syn::Index::from(i);
                quote!(#idx)
            }
        };
        if o.skip {
            continue;
        }
        if is_training_flag(&f.ty) {
            if flag.is_some() {
                return Err(syn::Error::new_spanned(f, "#[derive(Module)]: more than one TrainingFlag field"));
            }
            flag = Some(access);
            continue;
        }
        let name = o.name.clone().unwrap_or_else(|| match &f.ident {
            Some(id) => id.to_string().trim_start_matches("r#").to_string(),
            None => i.to_string(),
        });
        let probe = quote!((&#root::__derive::Probe(&self.#access)));
        children.push(quote!(#probe.__children(::std::string::String::from(#name), &mut out);));
        let var = quote!(#probe.__variables(::std::string::String::from(#name), &mut out););
        if o.buffer {
            buffers.push(var);
        } else {
            params.push(var);
        }
    }
    let ident = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let m = quote!(#root::__derive);
    let forward = opts.forward.map(|p| {
        quote! {
            fn forward(&self, input: &#m::Variable) -> #m::Variable {
                #p(self, input)
            }
        }
    });
    let flag = flag.map(|a| {
        quote! {
            fn training_flag(&self) -> ::std::option::Option<&#m::TrainingFlag> {
                ::std::option::Option::Some(&self.#a)
            }
        }
    });
    let uses = quote!(#[allow(unused_imports)] use #m::{ViaField as _, ViaNothing as _};);
    let list = format_ident!("out");
    Ok(quote! {
        impl #impl_g #m::Module for #ident #ty_g #where_c {
            #forward
            #flag
            fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #m::Module)> {
                #uses
                let mut #list = ::std::vec::Vec::new();
                #(#children)*
                #list
            }
            fn own_parameters(&self) -> ::std::vec::Vec<(::std::string::String, #m::Variable)> {
                #uses
                let mut #list = ::std::vec::Vec::new();
                #(#params)*
                #list
            }
            fn own_buffers(&self) -> ::std::vec::Vec<(::std::string::String, #m::Variable)> {
                #uses
                let mut #list = ::std::vec::Vec::new();
                #(#buffers)*
                #list
            }
        }
    })
}
