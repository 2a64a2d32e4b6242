/*
 * Object management functions (PKCS#11 3.0 §5.7): marshalling onto the
 * core's object functions (core/sess_object.c keeps the rules, the session
 * objects and the searches).
 */
#include "pkcs11/p11.h"

P11_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_create(p11_svc(), hSession, pTemplate, ulCount, phObject), __func__);
}

P11_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                              CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                              CK_OBJECT_HANDLE_PTR phNewObject)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_copy(p11_svc(), hSession, hObject, pTemplate, ulCount, phNewObject), __func__);
}

P11_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_destroy(p11_svc(), hSession, hObject), __func__);
}

P11_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_get_attrs(p11_svc(), hSession, hObject, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_set_attrs(p11_svc(), hSession, hObject, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ULONG_PTR pulSize)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_object_size(p11_svc(), hSession, hObject, pulSize), __func__);
}

P11_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                   CK_ULONG ulCount)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_find_init(p11_svc(), hSession, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                               CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_find(p11_svc(), hSession, phObject, ulMaxObjectCount, pulObjectCount), __func__);
}

P11_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_find_final(p11_svc(), hSession), __func__);
}
